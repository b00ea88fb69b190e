"""The log redactor: known credentials never reach a rendered log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
import structlog

from marketsync import logs
from marketsync.logs import REDACTED, Redactor
from marketsync.settings import Settings

SECRET = "secret-3f9a1c77d2e84b01"
TOKEN = "Atzr|IwEBIQ9d8c7b6a5f4e3d2c1b0a"

Configure = Callable[..., Callable[[], str]]


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[Configure]:
    """``configure(secrets, json=...)`` sets logging up as a runnable does and returns a reader
    of what reached stderr. Call it inside the test (capsys swaps ``sys.stderr`` between a
    fixture's set-up and the test); logging is restored afterwards."""
    root = logging.getLogger()
    level = root.level

    def configure(secrets: list[str], *, json: bool = False) -> Callable[[], str]:
        logs.configure(secrets, json=json)
        return lambda: capsys.readouterr().err

    try:
        yield configure
    finally:
        for handler in list(root.handlers):  # configure() replaced pytest's for the test
            if isinstance(handler.formatter, logs.RedactingFormatter):
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def test_redactor_replaces_every_secret_in_a_line() -> None:
    """Every known secret in a line is replaced, the longest first (none left half-visible)."""
    redactor = Redactor(["abcd", "abcd-efgh-ijkl", TOKEN])
    line = f"x abcd-efgh-ijkl y abcd token={TOKEN}"
    assert redactor(None, "warning", line) == f"x {REDACTED} y {REDACTED} token={REDACTED}"


@pytest.mark.parametrize("json", [False, True], ids=["console", "json"])
def test_configured_logging_scrubs_nested_values(configured: Configure, json: bool) -> None:
    """Secrets nested in any kind of log value are gone from the rendered line, console or JSON."""
    stderr = configured([SECRET, TOKEN], json=json)
    structlog.get_logger("test").warning(
        "call_failed",
        request={"form": {"client_secret": SECRET, "refresh_token": TOKEN}, "n": 3},
        attempts=[f"token={TOKEN}", ("again", {"deep": [SECRET]})],
        keyed={SECRET: "as a key"},
        error=ValueError(f"bad client secret {SECRET}"),
        body=SECRET.encode(),
        seen={TOKEN},
    )
    err = stderr()
    assert "call_failed" in err and "client_secret" in err and "deep" in err
    assert SECRET not in err and TOKEN not in err
    assert REDACTED in err


def test_configured_logging_scrubs_event_text_and_tracebacks(configured: Configure) -> None:
    """The event text and a structlog exception's traceback are redacted."""
    stderr = configured([SECRET, TOKEN])
    log = structlog.get_logger("test")
    log.warning(f"token {TOKEN}")
    try:
        raise RuntimeError(f"LWA refused client_secret={SECRET}")
    except RuntimeError:
        log.exception("login_failed")
    err = stderr()
    assert "login_failed" in err and "RuntimeError" in err
    assert SECRET not in err and TOKEN not in err


def test_configured_logging_scrubs_library_records_and_tracebacks(configured: Configure) -> None:
    """A library's stdlib log record and its logger.exception() traceback are redacted."""
    stderr = configured([SECRET, TOKEN])
    library = logging.getLogger("some.library")
    library.warning("posting refresh_token=%s", TOKEN)
    try:
        raise ConnectionError(f"cannot log in with {SECRET}")
    except ConnectionError:
        library.exception("connection failed")
    err = stderr()
    assert "some.library" in err and "ConnectionError" in err
    assert SECRET not in err and TOKEN not in err


@pytest.mark.parametrize("json", [False, True], ids=["console", "json"])
def test_configured_logging_scrubs_a_secret_the_renderer_escapes(
    configured: Configure, json: bool
) -> None:
    """A password the renderer escapes (quote, backslash, non-ASCII) is redacted as written."""
    password = 'pa"ss\\wörd-3f9a1c77'
    stderr = configured([password], json=json)
    structlog.get_logger("test").warning("connect_failed", password=password)
    err = stderr()
    assert "connect_failed" in err
    assert "3f9a1c77" not in err, err


def test_settings_hand_the_redactor_every_credential() -> None:
    """secret_values() holds the account secrets and both URL passwords, raw and decoded."""
    settings = Settings(
        amqp_url="amqp://worker:p%40ss%2Fw0rd-5e1d@broker:5672/shop",
        database_url="postgresql://app:db-pass-77c4@db:5432/marketsync",
    )
    values = set(settings.secret_values())
    assert {"p%40ss%2Fw0rd-5e1d", "p@ss/w0rd-5e1d", "db-pass-77c4"} <= values
    line = Redactor(values).scrub("ACCESS_REFUSED for worker/p@ss/w0rd-5e1d")
    assert "w0rd-5e1d" not in line
