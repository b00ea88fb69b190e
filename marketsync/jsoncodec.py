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

import json
import re
from typing import Any

import orjson

_LONG_NUMBER = re.compile(r"[0-9]{19}")


def loads(text: str) -> Any:
    """The JSON value in ``text``, as ``json.loads`` would read it (and raising as it does)."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps(value: Any) -> str:
    """Compact JSON text for ``value``: JSON-native values, tuples as arrays, and dataclass
    instances as objects of their fields (what ``dataclasses.asdict`` would give)."""
    return orjson.dumps(value).decode("utf-8")
