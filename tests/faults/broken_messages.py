"""Hypothesis strategies for storefront messages that break contract v1, each with the reason
it must be dead-lettered for.

A :class:`Bad` message carries its exact body and the prefixes one of which its dead-letter
reason must start with (the field it breaks: ``data.quantity:``, ``body:``, ...). It is built
by breaking exactly one thing of an otherwise valid message, so its reason is known without
asking the code under test. Routing keys and AMQP properties come from
:mod:`tests.faults.hostile_messages` (the same limits apply).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pika
from hypothesis import strategies as st

from tests.faults.hostile_messages import (
    ACCOUNTS,
    json_value,
    nested,
    prices,
    properties,
    repeated,
    routing_keys,
    skus,
    timestamps,
)

MAX_BODY = 65536  # the contract's largest body, in bytes
KNOWN_TYPES = frozenset(
    ["product.changed", "product.listed", "product.stopped", "product.removed", "order.shipped"]
)
UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
ACCOUNT = re.compile(r"[A-Za-z0-9._-]{1,64}")
MARKETPLACE = re.compile(r"[A-Z0-9]{8,20}")
TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Bad:
    body: bytes
    reasons: tuple[str, ...]  # the dead-letter reason starts with one of these
    routing_key: str
    properties: pika.BasicProperties | None


# --- messages that break the contract ------------------------------------------------------

FIELDS = {  # path: the JSON type the contract wants there
    "id": str,
    "type": str,
    "schema_version": int,
    "account": str,
    "marketplace_id": str,
    "occurred_at": str,
    "data": dict,
    "data.sku": str,
    "data.version": int,
    "data.quantity": int,
    "data.price": dict,
    "data.price.amount": str,
    "data.price.currency": str,
}
OPTIONAL = {"data.quantity", "data.price"}  # null or absent is fine while the other is there
INVALID_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88"]


@st.composite
def base_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A valid message (quantity and price both there) to break one thing of."""
    name, _seller, marketplace, currency = draw(st.sampled_from(ACCOUNTS))
    return {
        "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4)),
        "type": "product.changed",
        "schema_version": 1,
        "account": name,
        "marketplace_id": marketplace,
        "occurred_at": draw(timestamps()),
        "data": {
            "sku": draw(skus),
            "version": draw(st.integers(0, 2**63 - 1)),
            "quantity": draw(st.integers(0, 2**31 - 1)),
            "price": {"amount": draw(prices()), "currency": currency},
        },
    }


def get_parent(message: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *parents, key = path.split(".")
    node = message
    for part in parents:
        node = node[part]
    return node, key


def wrong_type(path: str) -> st.SearchStrategy[Any]:
    wanted = FIELDS[path]
    values = json_value | st.sampled_from([1.0, True, False, "1", "", [], {}])
    values = values.filter(lambda v: type(v) is not wanted)
    return values.filter(lambda v: v is not None) if path in OPTIONAL else values


def not_matching(pattern: re.Pattern[str], *edges: str) -> st.SearchStrategy[str]:
    return st.sampled_from(edges) | st.text(max_size=70).filter(lambda s: not pattern.fullmatch(s))


def _bad_amount(text: str) -> bool:
    match = re.fullmatch(r"([0-9]{1,10})(\.[0-9]{1,2})?", text)
    return match is None or float(text) <= 0


WRONG_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": not_matching(
        UUID, "6f1c2a4e-3a8e-4bd7-9a55-3f0f3f7a9c1", "{6f1c2a4e-3a8e-4bd7-9a55-3f0f3f7a9c11}"
    )
    | st.uuids().map(lambda u: f"urn:uuid:{u}"),
    "type": st.text(max_size=40).filter(lambda s: s not in KNOWN_TYPES)
    | st.sampled_from(["product.changed ", "Product.Changed", "product.changed\x00", "#", "*"]),
    "schema_version": st.integers(-(10**40), 10**40).filter(lambda v: v != 1),
    "account": not_matching(ACCOUNT, "'; DROP TABLE events; --", "$(whoami)", "demo-us ", "a" * 65),
    "marketplace_id": not_matching(MARKETPLACE, "atvpdkikx0der", "ATVPDKIKX0DER'--", "A1"),
    "occurred_at": not_matching(
        TIMESTAMP,
        "2026-11-24T21:00:00",
        "2026-11-24 21:00:00Z",
        "1732482000",
        "now",
        "2026-13-01T00:00:00Z",
    )
    | st.sampled_from(
        ["2026-02-30T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
    ),
    "data.sku": st.sampled_from(["", " SKU", "SKU ", " ", "\t"])
    | repeated(st.sampled_from(["x", "日", "'; --", "😀"]), 41, 15000)
    | st.builds(
        lambda sku, char, at: sku[:at] + char + sku[at:],
        skus,
        st.sampled_from(["\x00", "\x1f", "\x7f", "\x85", "\u200b", "\u2028", "\ufeff", "\ud800"]),
        st.integers(0, 40),
    ),
    "data.version": st.integers(-(2**100), -1) | st.integers(2**63, 2**200),
    "data.quantity": st.integers(-(2**100), -1)
    | st.integers(2**31, 2**200)
    | st.sampled_from([math.nan, math.inf, -math.inf, 1.5, 0.0]),
    "data.price.amount": st.sampled_from(
        [
            "0",
            "0.00",
            "-1",
            "1.234",
            "1e3",
            " 1",
            "1,00",
            ".5",
            "5.",
            "+5",
            "0x10",
            "١٢",
            "\uff15",  # fullwidth 5
            "NaN",
        ]
    )
    | st.text(max_size=14).filter(_bad_amount),
    "data.price.currency": not_matching(CURRENCY, "usd", "US", "USDD", "€"),
}
NOT_ACCEPTED: dict[str, tuple[st.SearchStrategy[str], str]] = {
    "account": (
        st.from_regex(ACCOUNT, fullmatch=True).filter(lambda a: a not in {a[0] for a in ACCOUNTS}),
        "account '",
    ),
    "marketplace_id": (
        st.from_regex(MARKETPLACE, fullmatch=True).filter(
            lambda m: m not in {a[2] for a in ACCOUNTS}
        )
        | st.just(ACCOUNTS[1][2]),  # another account's marketplace
        "marketplace ",
    ),
}


@st.composite
def field_breakages(draw: st.DrawFn) -> tuple[bytes, tuple[str, ...]]:
    """One field of a valid message broken: wrong type, wrong value, missing, not accepted."""
    message = draw(base_messages())
    how = draw(st.sampled_from(["type", "value", "missing", "neither", "not accepted"]))
    if how == "neither":
        del message["data"]["quantity"], message["data"]["price"]
        return dumps(message), ("data:",)
    if how == "not accepted":
        path = draw(st.sampled_from(sorted(NOT_ACCEPTED)))
        if path == "marketplace_id" and message["account"] == ACCOUNTS[1][0]:
            message["account"] = ACCOUNTS[0][0]  # so that the other marketplace is foreign
        strategy, reason = NOT_ACCEPTED[path]
        message[path] = draw(strategy)
        return dumps(message), (reason,)
    paths = sorted(FIELDS) if how != "missing" else sorted(set(FIELDS) - OPTIONAL)
    path = draw(st.sampled_from([p for p in paths if how != "value" or p in WRONG_VALUES]))
    parent, key = get_parent(message, path)
    if how == "missing":
        del parent[key]
    else:
        parent[key] = draw(wrong_type(path) if how == "type" else WRONG_VALUES[path])
    return dumps(message), (f"{path}:",)


def dumps(message: Any) -> bytes:
    return json.dumps(message, ensure_ascii=True).encode("ascii")


def not_an_object(body: bytes) -> bool:
    try:
        return type(json.loads(body.decode("utf-8"))) is not dict
    except (UnicodeDecodeError, ValueError, RecursionError):
        return True


@st.composite
def body_breakages(draw: st.DrawFn) -> bytes:
    """A body that is not a JSON object of at most 64 KiB of UTF-8."""
    valid = dumps(draw(base_messages()))
    how = draw(st.sampled_from(sorted(BODY_BREAKAGES)))
    return BODY_BREAKAGES[how](draw, valid)


def _insert(draw: st.DrawFn, valid: bytes, piece: bytes) -> bytes:
    at = draw(st.integers(0, len(valid)))
    return valid[:at] + piece + valid[at:]


BODY_BREAKAGES = {
    "binary": lambda draw, _v: draw(st.binary(max_size=300).filter(not_an_object)),
    "not an object": lambda draw, _v: draw(
        json_value.filter(lambda v: type(v) is not dict).map(dumps)
    ),
    "truncated": lambda draw, v: v[: draw(st.integers(0, len(v) - 1))],
    "invalid utf-8": lambda draw, v: _insert(draw, v, draw(st.sampled_from(INVALID_UTF8))),
    "bom": lambda _d, v: b"\xef\xbb\xbf" + v,
    "utf-16/32": lambda draw, v: v.decode().encode(draw(st.sampled_from(["utf-16", "utf-32"]))),
    "deep nesting": lambda draw, _v: draw(
        st.sampled_from([nested, lambda d: '{"a":' * d + "1" + "}" * d])
    )(draw(st.integers(5000, 30000))).encode(),
    "deep inside": lambda draw, v: (
        v[:-1] + b',"deep":' + nested(draw(st.integers(5000, 20000))).encode() + b"}"
    ),
    "too big": lambda draw, v: (
        v[:-1] + b',"pad":"' + b"x" * draw(st.integers(MAX_BODY - len(v) + 1, 3 * MAX_BODY)) + b'"}'
    ),
    "long number": lambda draw, v: v.replace(
        b'"version": ', b'"version": ' + b"9" * draw(st.integers(4301, 20000)), 1
    ),
    "python literal": lambda _d, v: repr(json.loads(v)).encode(),
    "trailing comma": lambda _d, v: v[:-1] + b",}",
    "comment": lambda _d, v: b"// storefront\n" + v,
}


@st.composite
def bad_messages(draw: st.DrawFn) -> Bad:
    """A message the contract refuses, with the reason it must be dead-lettered for."""
    if draw(st.integers(0, 2)) == 0:
        body, reasons = draw(body_breakages()), ("body:",)
    else:
        body, reasons = draw(field_breakages())
    if len(body) > MAX_BODY:
        reasons = ("body:",)  # the size is checked first
    body = body or b" "  # an empty body has a test of its own
    return Bad(body, reasons, draw(routing_keys), draw(properties))
