"""structlog set-up for every runnable: key/value events, secrets redacted, JSON or console.

Redaction works on the final text of every line, after rendering: whatever a value was (an
exception, bytes, a set, a dict key, a library's traceback), if its rendering contains a
known credential (LWA client id and secret, refresh tokens, broker and database passwords),
the credential is replaced. The same happens to the standard library's log records.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any, TypedDict

import structlog

REDACTED = "***"


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for s in secrets if len(s) >= 4 for form in _written_forms(s)}
        self.secrets = sorted(forms, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __call__(self, _logger: Any, _name: str, rendered: Any) -> str:
        """The last structlog processor: scrubs the rendered line."""
        return self.scrub(str(rendered))


def _written_forms(secret: str) -> set[str]:
    """The secret as a renderer may write it: as is, JSON-escaped, repr-escaped."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    }


class RedactingFormatter(logging.Formatter):
    """Formats a stdlib record (traceback included), then scrubs the text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.scrub(super().format(record))


class LogConfig(TypedDict):
    secrets: tuple[str, ...]
    json: bool
    level: int


_current: LogConfig | None = None


def current() -> LogConfig | None:
    """How this process was configured: a child process configures itself the same way."""
    return _current


def configure(secrets: Iterable[str], *, json: bool = False, level: int = logging.INFO) -> None:
    """Configure structlog (and the stdlib loggers libraries use) once per process."""
    global _current
    _current = LogConfig(secrets=tuple(secrets), json=json, level=level)
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    redactor = Redactor(_current["secrets"])
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
            redactor,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(redactor))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
