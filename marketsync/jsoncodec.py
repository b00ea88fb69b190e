"""The one module that imports orjson: JSON for the hot path (storefront bodies, event data).

Every storefront change is decoded once from its message and encoded twice into the log
(data and metadata), and replay decodes every event again, so the standard library's
``json`` cost as much as the fold itself. orjson does the same work in C, several times
faster (the bench's ``handler_alone_rate`` measures the batcher with it).

orjson reads some texts differently from ``json``: it refuses ``NaN`` and lone surrogates,
which ``json`` reads, and it reads an integer beyond 64 bits as a float. :func:`loads`
therefore leaves to ``json.loads`` any text orjson refuses and any text with 19 digits in
a row (the shortest integer that may not fit), so what is accepted, and the reason a
refused body gets, stay exactly what ``json`` decides; only the common case gets faster.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson

# Every byte of a text mapped to "0" for a digit, " " otherwise: 19 digits in a row then show
# as 19 zeros (bytes.translate and ``in`` run in C: 0.3 µs on a storefront body, where a
# regular expression takes 2).
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def loads(text: str) -> Any:
    """The JSON value in ``text``, as ``json.loads`` would read it (and raising as it does)."""
    if _LONG_NUMBER not in text.encode("utf-8", "surrogatepass").translate(_DIGITS):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def loads_recorded(text: str) -> Any:
    """The JSON value of event data this program wrote to the log (see :func:`dumps`). It
    needs no look for long numbers: every integer in it fits 64 bits (the contract bounds
    versions and quantities). What orjson refuses (a lone surrogate Amazon sent in a
    message) is left to ``json.loads``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> str:
    """Compact JSON text for ``value``: JSON-native values, tuples as arrays, and dataclass
    instances as objects of their fields (what ``dataclasses.asdict`` would give). What
    orjson refuses to write (a lone surrogate in text from Amazon) ``json.dumps`` writes,
    escaped."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), default=_fields)


def _fields(record: Any) -> Any:
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    raise TypeError(f"{type(record).__name__} is not JSON serializable")
