"""The one module that imports orjson: JSON for the hot path (storefront bodies, event data).

Every storefront change is decoded once from its message and encoded twice into the log
(data and metadata), and replay decodes every event again, so the standard library's
``json`` cost as much as the fold itself. orjson does the same work in C, several times
faster (the bench's ``handler_alone_rate`` measures the batcher with it).

orjson is stricter than ``json``: it refuses ``NaN``, integers beyond 64 bits and lone
surrogates, which ``json`` reads. :func:`loads` therefore falls back to ``json.loads`` for
any text orjson refuses, so what is accepted, and the reason a refused body gets, stay
exactly what ``json`` decides; only the common case gets faster.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(text: str | bytes) -> Any:
    """The JSON value in ``text``, as ``json.loads`` would read it (and raising as it does)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> str:
    """Compact JSON text for ``value``: JSON-native values, tuples as arrays, and dataclass
    instances as objects of their fields (what ``dataclasses.asdict`` would give)."""
    return orjson.dumps(value).decode("utf-8")
