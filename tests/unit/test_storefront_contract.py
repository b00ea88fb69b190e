"""The storefront contract v1: round trips, every rejection with its reason, fuzzing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketsync.schemas.storefront import (
    EVENT_TYPES,
    MAX_BODY_BYTES,
    InvalidMessage,
    Money,
    OrderShipped,
    ProductChanged,
    ProductListed,
    ProductRemoved,
    ProductStopped,
    ShippedItem,
    StorefrontEvent,
    UnknownEventType,
    UnsupportedSchemaVersion,
    new_event_id,
    parse_message,
    routing_key,
    to_body,
    to_dict,
)

# --- strategies -----------------------------------------------------------------------------

_PRINTABLE = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))


def printable_text(max_size: int) -> st.SearchStrategy[str]:
    chars = st.one_of(_PRINTABLE, st.just(" "))
    return st.text(chars, min_size=1, max_size=max_size).filter(lambda s: s.strip(" ") == s)


_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
instants = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_ZONES
)
money = st.builds(
    Money,
    amount=st.one_of(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2),
        st.integers(min_value=1, max_value=9_999_999_999).map(Decimal),
    ),
    currency=st.from_regex(r"[A-Z]{3}", fullmatch=True),
)
quantities = st.integers(min_value=0, max_value=2**31 - 1)
envelope: dict[str, st.SearchStrategy[Any]] = {
    "id": st.uuids().map(str),
    "account": st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True),
    "marketplace_id": st.from_regex(r"[A-Z0-9]{8,20}", fullmatch=True),
    "occurred_at": instants,
}
product: dict[str, st.SearchStrategy[Any]] = {
    **envelope,
    "sku": printable_text(40),
    "version": st.integers(min_value=0, max_value=2**63 - 1),
}

product_changed = st.builds(
    ProductChanged, **product, quantity=st.none() | quantities, price=st.none() | money
).filter(lambda e: e.quantity is not None or e.price is not None)
product_listed = st.builds(
    ProductListed,
    **product,
    asin=st.none() | st.from_regex(r"[A-Z0-9]{10}", fullmatch=True),
    ean=st.none() | st.from_regex(r"[0-9]{8}|[0-9]{13}", fullmatch=True),
    upc=st.none() | st.from_regex(r"[0-9]{12}", fullmatch=True),
    condition=st.sampled_from(["new_new", "used_good", "refurbished_refurbished"]),
    quantity=quantities,
    price=money,
).filter(lambda e: (e.asin, e.ean, e.upc) != (None, None, None))
shipped_items = st.lists(
    st.builds(
        ShippedItem,
        order_item_id=printable_text(64),
        quantity=st.integers(min_value=1, max_value=2**31 - 1),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda item: item.order_item_id,
).map(tuple)
order_shipped = st.builds(
    OrderShipped,
    **envelope,
    amazon_order_id=st.from_regex(r"[0-9]{3}-[0-9]{7}-[0-9]{7}", fullmatch=True),
    carrier=st.sampled_from(["UPS", "USPS", "DHL", "Other"]) | printable_text(64),
    tracking_number=printable_text(64),
    ship_date=instants,
    items=shipped_items,
    carrier_name=st.none() | printable_text(64),
    shipping_method=st.none() | printable_text(64),
).filter(lambda e: e.carrier != "Other" or e.carrier_name is not None)
events: st.SearchStrategy[StorefrontEvent] = st.one_of(
    product_changed,
    product_listed,
    st.builds(ProductStopped, **product),
    st.builds(ProductRemoved, **product),
    order_shipped,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

# --- helpers --------------------------------------------------------------------------------

EVENT_ID = "6f1c2a9e-3b4d-4c5e-8f60-7a8b9c0d1e2f"


def message(event_type: str = "product.changed", **data: Any) -> dict[str, Any]:
    return {
        "id": EVENT_ID,
        "type": event_type,
        "schema_version": 1,
        "account": "acme-us",
        "marketplace_id": "ATVPDKIKX0DER",
        "occurred_at": "2026-11-24T21:00:00Z",
        "data": data or {"sku": "SKU-1", "version": 42, "quantity": 10},
    }


def listed(**changes: Any) -> dict[str, Any]:
    data = {"sku": "SKU-1", "version": 1, "asin": "B000000001", "quantity": 5}
    data["price"] = {"amount": "19.99", "currency": "USD"}
    return message("product.listed", **{**data, **changes})


def shipped(**changes: Any) -> dict[str, Any]:
    data = {
        "amazon_order_id": "028-1234567-1234567",
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "ship_date": "2026-11-25T10:00:00Z",
        "items": [{"order_item_id": "79039765272157", "quantity": 1}],
    }
    return message("order.shipped", **{**data, **changes})


def encode(value: object) -> bytes:
    return json.dumps(value).encode()


def reason_for(body: bytes) -> str:
    with pytest.raises(InvalidMessage) as caught:
        parse_message(body)
    return caught.value.reason


def with_envelope(**changes: Any) -> bytes:
    return encode({**message(), **changes})


def with_data(**changes: Any) -> bytes:
    return encode(message(**{"sku": "SKU-1", "version": 42, "quantity": 10, **changes}))


# --- round trips ----------------------------------------------------------------------------


@given(events)
def test_any_valid_event_survives_a_round_trip(event: StorefrontEvent) -> None:
    """to_body then parse_message gives back an equal event, of the same class."""
    parsed = parse_message(to_body(event))
    assert parsed == event
    assert type(parsed) is type(event)
    assert json.loads(to_body(event)) == to_dict(event)


@given(events)
def test_bodies_are_compact_utf8_and_within_the_size_limit(event: StorefrontEvent) -> None:
    """to_body writes compact UTF-8 JSON, well under MAX_BODY_BYTES."""
    body = to_body(event)
    assert len(body) <= MAX_BODY_BYTES
    compact = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":"))
    assert compact.encode("utf-8") == body


def test_the_design_example_parses() -> None:
    """The body shown in DESIGN.md parses to the expected ProductChanged."""
    body = encode(
        message(sku="SKU-1", version=42, quantity=10, price={"amount": "19.99", "currency": "USD"})
    )
    assert parse_message(body) == ProductChanged(
        id=EVENT_ID,
        account="acme-us",
        marketplace_id="ATVPDKIKX0DER",
        occurred_at=datetime(2026, 11, 24, 21, 0, tzinfo=UTC),
        sku="SKU-1",
        version=42,
        quantity=10,
        price=Money(Decimal("19.99"), "USD"),
    )


def test_event_id_and_times_are_normalised() -> None:
    """An upper-case id comes back lower-case; an offset time comes back in UTC."""
    event = parse_message(
        with_envelope(id=EVENT_ID.upper(), occurred_at="2026-11-24T23:30:00.5+02:30")
    )
    assert event.id == EVENT_ID
    assert event.occurred_at == datetime(2026, 11, 24, 21, 0, 0, 500000, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC


def test_unknown_keys_are_ignored() -> None:
    """Extra envelope and data keys (a newer producer) do not stop a v1 consumer."""
    body = {**message(), "trace": {"span": [1, 2]}, "source": "shopify"}
    body["data"] = {**body["data"], "colour": "red", "nested": {"a": None}}
    assert isinstance(parse_message(encode(body)), ProductChanged)


def test_optional_fields_may_be_null_or_absent() -> None:
    """A null quantity or price means "not given", like an absent key."""
    event = parse_message(with_data(quantity=None, price={"amount": "5", "currency": "EUR"}))
    assert isinstance(event, ProductChanged)
    assert event.quantity is None
    assert event.price == Money(Decimal("5"), "EUR")


def test_listing_condition_defaults_to_new() -> None:
    """product.listed without a condition lists the SKU as new_new."""
    event = parse_message(encode(listed()))
    assert isinstance(event, ProductListed)
    assert event.condition == "new_new"


def test_every_type_parses() -> None:
    """One minimal body per registered type parses to the registered class."""
    bodies = {
        "product.changed": message(),
        "product.listed": listed(),
        "product.stopped": message("product.stopped", sku="S", version=0),
        "product.removed": message("product.removed", sku="S", version=0),
        "order.shipped": shipped(),
    }
    assert set(bodies) == set(EVENT_TYPES)
    for name, body in bodies.items():
        assert type(parse_message(encode(body))) is EVENT_TYPES[name]


def test_a_body_of_exactly_the_limit_is_accepted() -> None:
    """MAX_BODY_BYTES is inclusive: padding a valid body to the limit still parses."""
    body = encode(message())
    padded = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_BODY_BYTES
    assert isinstance(parse_message(padded), ProductChanged)


def test_routing_key_and_new_event_id() -> None:
    """routing_key is <type>.<account>; new_event_id is a fresh lower-case UUID."""
    assert routing_key("product.changed", "acme-us") == "product.changed.acme-us"
    first, second = new_event_id(), new_event_id()
    assert first != second
    assert parse_message(with_envelope(id=first)).id == first


# --- hostile but valid SKUs -----------------------------------------------------------------

HOSTILE_SKUS = [
    "'; DROP TABLE skus; --",
    "$(rm -rf /)",
    "`id`",
    'O\'Reilly "Deluxe" 12"',
    "a;b|c&d>e<f",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%s%n%x%d",
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "\\u0000 \\n",
    "SKU 1 / blue",
    "ÄÖÜ-ß-日本語-🙂",
    "x" * 40,
]


@pytest.mark.parametrize("sku", HOSTILE_SKUS)
def test_hostile_but_valid_skus_are_accepted_verbatim(sku: str) -> None:
    """Quotes, shell and SQL metacharacters, Unicode: a SKU is kept exactly as sent."""
    event = parse_message(with_data(sku=sku))
    assert isinstance(event, ProductChanged)
    assert event.sku == sku
    assert parse_message(to_body(event)) == event


# --- rejections -----------------------------------------------------------------------------

WHOLE = "must be a whole number"
ACCOUNT = "must be 1 to 64 of A-Z a-z 0-9 . _ -"
NON_PRINTABLE = "must not contain control or other non-printable characters"
SPACES = "must not start or end with a space"
ORDER_ID = "must be an Amazon order id like 028-1234567-1234567"


def rejected(name: str, body: bytes, reason: str) -> Any:
    return pytest.param(body, reason, id=name)


RFC3339 = "an RFC 3339 time with offset like 2026-11-24T21:00:00Z"
AMOUNT = 'must be a decimal string like "19.99" (> 0, at most 2 decimal places)'
TYPES = "order.shipped, product.changed, product.listed, product.removed, product.stopped"

REJECTIONS: list[Any] = [
    # the body as a whole
    rejected(
        "not json",
        b"{not json",
        "body: not valid JSON (Expecting property name enclosed in double quotes at char 1)",
    ),
    rejected("empty", b"", "body: not valid JSON (Expecting value at char 0)"),
    rejected(
        "bad utf-8", b'{"id": "\xff"}', "body: not valid UTF-8 (invalid start byte at byte 8)"
    ),
    rejected(
        "too large", b" " * (MAX_BODY_BYTES + 1), "body: must be at most 65536 bytes, got 65537"
    ),
    rejected("not an object", b"[1, 2]", "body: must be an object, got an array"),
    rejected("a string", b'"hello"', 'body: must be an object, got "hello"'),
    rejected("deep nesting", b"[" * 50_000, "body: not acceptable JSON (nested too deeply)"),
    rejected(
        "huge integer", b"1" * 5000, "body: not acceptable JSON (a number has too many digits)"
    ),
    # version and type
    rejected(
        "no version",
        encode({k: v for k, v in message().items() if k != "schema_version"}),
        "schema_version: is required (must be a whole number >= 1)",
    ),
    rejected(
        "version as string",
        with_envelope(schema_version="1"),
        f'schema_version: {WHOLE} >= 1, got "1"',
    ),
    rejected(
        "version as bool",
        with_envelope(schema_version=True),
        f"schema_version: {WHOLE} >= 1, got true",
    ),
    rejected("no type", with_envelope(type=None), f"type: must be one of {TYPES}, got null"),
    rejected(
        "type not a string",
        with_envelope(type=["product.changed"]),
        f"type: must be one of {TYPES}, got an array",
    ),
    # envelope
    rejected(
        "bad id",
        with_envelope(id="not-a-uuid"),
        'id: must be a UUID like 6f1c2a9e-...-..., got "not-a-uuid"',
    ),
    rejected(
        "braced id",
        with_envelope(id="{" + EVENT_ID + "}"),
        f'id: must be a UUID like 6f1c2a9e-...-..., got "{{{EVENT_ID}}}"',
    ),
    rejected(
        "account with space", with_envelope(account="acme us"), f'account: {ACCOUNT}, got "acme us"'
    ),
    rejected("account empty", with_envelope(account=""), f'account: {ACCOUNT}, got ""'),
    rejected(
        "account too long",
        with_envelope(account="a" * 65),
        f'account: {ACCOUNT}, got "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" (+25 chars)',
    ),
    rejected(
        "account with newline",
        with_envelope(account="acme\n"),
        f'account: {ACCOUNT}, got "acme\\n"',
    ),
    rejected(
        "marketplace lower-case",
        with_envelope(marketplace_id="atvpdkikx0der"),
        'marketplace_id: must be 8 to 20 capital letters or digits, got "atvpdkikx0der"',
    ),
    rejected(
        "marketplace short",
        with_envelope(marketplace_id="ATVP"),
        'marketplace_id: must be 8 to 20 capital letters or digits, got "ATVP"',
    ),
    rejected(
        "time without offset",
        with_envelope(occurred_at="2026-11-24T21:00:00"),
        f'occurred_at: must be {RFC3339}, got "2026-11-24T21:00:00"',
    ),
    rejected(
        "time as number",
        with_envelope(occurred_at=1764018000),
        f"occurred_at: must be {RFC3339}, got 1764018000",
    ),
    rejected(
        "time nanoseconds",
        with_envelope(occurred_at="2026-11-24T21:00:00.1234567Z"),
        f'occurred_at: must be {RFC3339}, got "2026-11-24T21:00:00.1234567Z"',
    ),
    rejected(
        "impossible date",
        with_envelope(occurred_at="2026-02-30T00:00:00Z"),
        f'occurred_at: must be a real point in time ({RFC3339}), got "2026-02-30T00:00:00Z"',
    ),
    rejected(
        "leap second",
        with_envelope(occurred_at="2016-12-31T23:59:60Z"),
        f'occurred_at: must be a real point in time ({RFC3339}), got "2016-12-31T23:59:60Z"',
    ),
    rejected(
        "before year 1 in UTC",
        with_envelope(occurred_at="0001-01-01T00:00:00+01:00"),
        f'occurred_at: must be a real point in time ({RFC3339}), got "0001-01-01T00:00:00+01:00"',
    ),
    rejected(
        "data missing",
        encode({k: v for k, v in message().items() if k != "data"}),
        "data: is required (must be an object)",
    ),
    rejected("data not an object", with_envelope(data=[]), "data: must be an object, got []"),
    # product fields
    rejected(
        "sku missing",
        encode(message(version=1, quantity=1)),
        "data.sku: is required (must be a string)",
    ),
    rejected("sku a number", with_data(sku=12345), "data.sku: must be a string, got 12345"),
    rejected("sku empty", with_data(sku=""), 'data.sku: must be 1 to 40 characters, got ""'),
    rejected(
        "sku too long",
        with_data(sku="x" * 41),
        f'data.sku: must be 1 to 40 characters, got "{"x" * 40}" (+1 chars)',
    ),
    rejected("sku leading space", with_data(sku=" SKU-1"), f'data.sku: {SPACES}, got " SKU-1"'),
    rejected("sku trailing space", with_data(sku="SKU-1 "), f'data.sku: {SPACES}, got "SKU-1 "'),
    rejected("sku newline", with_data(sku="SKU\n1"), f'data.sku: {NON_PRINTABLE}, got "SKU\\n1"'),
    rejected(
        "sku NUL", with_data(sku="SKU\u00001"), f'data.sku: {NON_PRINTABLE}, got "SKU\\u00001"'
    ),
    rejected(
        "sku zero-width",
        with_data(sku="SKU\u200b1"),
        f'data.sku: {NON_PRINTABLE}, got "SKU\\u200b1"',
    ),
    rejected(
        "sku lone surrogate",
        b'{"id":"' + EVENT_ID.encode() + b'","type":"product.changed","schema_version":1,'
        b'"account":"a","marketplace_id":"ATVPDKIKX0DER","occurred_at":"2026-11-24T21:00:00Z",'
        b'"data":{"sku":"\\ud800","version":1,"quantity":1}}',
        f'data.sku: {NON_PRINTABLE}, got "\\ud800"',
    ),
    rejected("version negative", with_data(version=-1), f"data.version: {WHOLE} >= 0, got -1"),
    rejected(
        "version too big",
        with_data(version=2**63),
        f"data.version: {WHOLE} <= {2**63 - 1}, got {2**63}",
    ),
    rejected("version float", with_data(version=42.0), f"data.version: {WHOLE} >= 0, got 42.0"),
    rejected("quantity negative", with_data(quantity=-3), f"data.quantity: {WHOLE} >= 0, got -3"),
    rejected("quantity bool", with_data(quantity=True), f"data.quantity: {WHOLE} >= 0, got true"),
    rejected("quantity string", with_data(quantity="10"), f'data.quantity: {WHOLE} >= 0, got "10"'),
    rejected("quantity fraction", with_data(quantity=1.5), f"data.quantity: {WHOLE} >= 0, got 1.5"),
    rejected(
        "quantity too big",
        with_data(quantity=2**31),
        f"data.quantity: {WHOLE} <= 2147483647, got 2147483648",
    ),
    rejected(
        "quantity NaN", with_data(quantity=float("nan")), f"data.quantity: {WHOLE} >= 0, got NaN"
    ),
    rejected(
        "neither quantity nor price",
        encode(message(sku="S", version=1)),
        "data: must carry quantity, price or both, got neither",
    ),
    # price
    rejected(
        "price a string", with_data(price="19.99"), 'data.price: must be an object, got "19.99"'
    ),
    rejected(
        "amount a number",
        with_data(price={"amount": 19.99, "currency": "USD"}),
        f"data.price.amount: {AMOUNT}, got 19.99",
    ),
    rejected(
        "amount missing",
        with_data(price={"currency": "USD"}),
        f"data.price.amount: is required ({AMOUNT})",
    ),
    rejected(
        "amount 3 places",
        with_data(price={"amount": "19.999", "currency": "USD"}),
        f'data.price.amount: {AMOUNT}, got "19.999"',
    ),
    rejected(
        "amount zero",
        with_data(price={"amount": "0.00", "currency": "USD"}),
        'data.price.amount: must be greater than 0, got "0.00"',
    ),
    rejected(
        "amount negative",
        with_data(price={"amount": "-1.00", "currency": "USD"}),
        f'data.price.amount: {AMOUNT}, got "-1.00"',
    ),
    rejected(
        "amount 11 digits",
        with_data(price={"amount": "12345678901", "currency": "USD"}),
        f'data.price.amount: {AMOUNT}, got "12345678901"',
    ),
    rejected(
        "amount exponent",
        with_data(price={"amount": "1e3", "currency": "USD"}),
        f'data.price.amount: {AMOUNT}, got "1e3"',
    ),
    rejected(
        "amount comma",
        with_data(price={"amount": "19,99", "currency": "USD"}),
        f'data.price.amount: {AMOUNT}, got "19,99"',
    ),
    rejected(
        "amount Arabic digits",
        with_data(price={"amount": "١٩.٩٩", "currency": "USD"}),
        f'data.price.amount: {AMOUNT}, got "\\u0661\\u0669.\\u0669\\u0669"',
    ),
    rejected(
        "currency lower-case",
        with_data(price={"amount": "1", "currency": "usd"}),
        'data.price.currency: must be 3 capital letters, got "usd"',
    ),
    # product.listed
    rejected(
        "listed without id",
        encode(listed(asin=None)),
        "data: must identify the product by asin, ean or upc, got none",
    ),
    rejected(
        "listed bad ASIN",
        encode(listed(asin="b000000001")),
        'data.asin: must be an ASIN: 10 capital letters or digits, got "b000000001"',
    ),
    rejected(
        "listed bad EAN",
        encode(listed(ean="123")),
        'data.ean: must be an EAN: 8 or 13 digits, got "123"',
    ),
    rejected(
        "listed bad UPC",
        encode(listed(upc=12345678901)),
        "data.upc: must be a UPC: 12 digits, got 12345678901",
    ),
    rejected(
        "listed bad condition",
        encode(listed(condition="mint")),
        "data.condition: must be one of club_club, collectible_acceptable, collectible_good, "
        "collectible_like_new, collectible_very_good, new_new, new_oem, new_open_box, "
        "refurbished_refurbished, used_acceptable, used_good, used_like_new, used_very_good, "
        'got "mint"',
    ),
    rejected(
        "listed no quantity",
        encode(listed(quantity=None)),
        f"data.quantity: {WHOLE} >= 0, got null",
    ),
    rejected(
        "listed no price", encode(listed(price=None)), "data.price: must be an object, got null"
    ),
    # order.shipped
    rejected(
        "order id short",
        encode(shipped(amazon_order_id="28-1234567-1234567")),
        f'data.amazon_order_id: {ORDER_ID}, got "28-1234567-1234567"',
    ),
    rejected(
        "order id Unicode digits",
        encode(shipped(amazon_order_id="٠٢٨-1234567-1234567")),
        f'data.amazon_order_id: {ORDER_ID}, got "\\u0660\\u0662\\u0668-1234567-1234567"',
    ),
    rejected(
        "no carrier", encode(shipped(carrier=None)), "data.carrier: must be a string, got null"
    ),
    rejected(
        "carrier Other without name",
        encode(shipped(carrier="Other")),
        'data.carrier_name: is required when carrier is "Other"',
    ),
    rejected(
        "tracking blank",
        encode(shipped(tracking_number=" ")),
        f'data.tracking_number: {SPACES}, got " "',
    ),
    rejected(
        "ship date naive",
        encode(shipped(ship_date="2026-11-25")),
        f'data.ship_date: must be {RFC3339}, got "2026-11-25"',
    ),
    rejected(
        "items empty", encode(shipped(items=[])), "data.items: must be a non-empty array, got []"
    ),
    rejected(
        "items an object",
        encode(shipped(items={"a": 1})),
        "data.items: must be a non-empty array, got an object",
    ),
    rejected(
        "item not an object",
        encode(shipped(items=["79039765272157"])),
        'data.items[0]: must be an object, got "79039765272157"',
    ),
    rejected(
        "item quantity zero",
        encode(shipped(items=[{"order_item_id": "1", "quantity": 0}])),
        f"data.items[0].quantity: {WHOLE} >= 1, got 0",
    ),
    rejected(
        "item id missing",
        encode(shipped(items=[{"order_item_id": "1", "quantity": 1}, {"quantity": 1}])),
        "data.items[1].order_item_id: is required (must be a string)",
    ),
    rejected(
        "item repeated",
        encode(shipped(items=[{"order_item_id": "7", "quantity": 1}] * 2)),
        'data.items[1].order_item_id: must differ from items[0]\'s, got "7"',
    ),
]


@pytest.mark.parametrize(("body", "reason"), REJECTIONS)
def test_invalid_bodies_are_rejected_with_a_clear_reason(body: bytes, reason: str) -> None:
    """Each broken rule raises InvalidMessage naming the field, the rule and the value."""
    assert reason_for(body) == reason


def test_unknown_types_and_versions_have_their_own_errors() -> None:
    """Unknown types and versions raise InvalidMessage subclasses a consumer can single out."""
    with pytest.raises(UnknownEventType) as unknown:
        parse_message(with_envelope(type="product.deleted"))
    assert unknown.value.reason == f'type: must be one of {TYPES}, got "product.deleted"'
    with pytest.raises(UnsupportedSchemaVersion) as unsupported:
        parse_message(with_envelope(schema_version=2))
    assert (
        unsupported.value.reason == "schema_version: must be 1 (the only version known here), got 2"
    )


def test_non_bytes_input_is_an_invalid_message() -> None:
    """A str (or anything else) passed by mistake is refused as InvalidMessage too."""
    body: Any = json.dumps(message())
    assert reason_for(body) == "body: must be bytes, got str"


def test_reasons_are_single_printable_ascii_lines() -> None:
    """Reasons go into an AMQP header: one line, printable ASCII, even for hostile input."""
    for case in REJECTIONS:
        reason = reason_for(case.values[0])
        assert reason.isascii() and reason.isprintable(), reason


NAIVE = datetime(2026, 11, 24, 21, 0)
WHERE: dict[str, Any] = {"account": "a", "marketplace_id": "ATVPDKIKX0DER"}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            ProductChanged(**WHERE, sku="S", version=1, quantity=-1),
            f"data.quantity: {WHOLE} >= 0, got -1",
        ),
        (
            ProductChanged(**WHERE, sku="S", version=1),
            "data: must carry quantity, price or both, got neither",
        ),
        (
            ProductStopped(**WHERE, sku="S", version=1, occurred_at=NAIVE),
            "occurred_at: must be timezone-aware, got a naive datetime",
        ),
        (
            ProductChanged(**WHERE, sku="S", version=1, price=Money(Decimal("19.999"), "USD")),
            f'data.price.amount: {AMOUNT}, got "19.999"',
        ),
        (
            ProductRemoved(**WHERE, sku="\ud800", version=1),
            "event: cannot be written as JSON (UnicodeEncodeError)",
        ),
    ],
)
def test_to_body_refuses_events_that_break_the_contract(
    event: StorefrontEvent, reason: str
) -> None:
    """to_body raises InvalidMessage rather than write a body a consumer would dead-letter."""
    with pytest.raises(InvalidMessage) as caught:
        to_body(event)
    assert caught.value.reason == reason


# --- fuzzing --------------------------------------------------------------------------------


def parse_or_refuse(body: bytes) -> StorefrontEvent | None:
    try:
        return parse_message(body)
    except InvalidMessage as error:
        assert error.reason.isascii() and error.reason.isprintable()
        return None


@settings(max_examples=500)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_invalid_message(body: bytes) -> None:
    """No byte string makes parse_message raise anything but InvalidMessage."""
    parse_or_refuse(body)


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_json_raises_only_invalid_message(value: object) -> None:
    """No JSON document makes parse_message raise anything but InvalidMessage."""
    parse_or_refuse(json.dumps(value).encode())


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """A valid message with one envelope, data or nested field replaced or deleted."""
    body = to_dict(draw(events))
    targets: list[dict[str, Any]] = [body, body["data"]]
    targets += [value for value in body["data"].values() if isinstance(value, dict)]
    targets += [item for item in body["data"].get("items", [])]
    target = draw(st.sampled_from(targets))
    key = draw(st.sampled_from(sorted(target)))
    if draw(st.booleans()):
        del target[key]
    else:
        target[key] = draw(json_values)
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


@settings(max_examples=500)
@given(mutated_messages())
def test_near_valid_messages_raise_only_invalid_message(body: bytes) -> None:
    """A valid message with one field broken is refused cleanly, or parses to a stable event."""
    event = parse_or_refuse(body)
    if event is not None:
        assert parse_message(to_body(event)) == event
