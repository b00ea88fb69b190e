"""The storefront contract, v1: what a storefront hook publishes and what the batcher accepts.

A hook publishes one JSON object per message to exchange :data:`EXCHANGE` (topic, durable)
with routing key ``<type>.<account>``. Only the body is binding::

    {"id": "<uuid>", "type": "product.changed", "schema_version": 1,
     "account": "acme-us", "marketplace_id": "ATVPDKIKX0DER",
     "occurred_at": "2026-11-24T21:00:00Z",
     "data": {"sku": "SKU-1", "version": 42, "quantity": 10,
              "price": {"amount": "19.99", "currency": "USD"}}}

:func:`parse_message` turns a body into one of the frozen events below or raises
:class:`InvalidMessage`; :func:`to_body` is its inverse. Keys this version does not know,
in the envelope or in ``data``, are ignored so that producers can move ahead of consumers.

Errors (defined in :mod:`marketsync.schemas.validation`, re-exported here)::

    ContractError                  anything this package refuses
     └── InvalidMessage(reason)    the body can never be accepted as it is: dead-letter it
          ├── UnsupportedSchemaVersion   a schema_version this code does not know
          └── UnknownEventType           a type this code does not know

``reason`` is one printable line, ``"<path>: <rule>, got <value>"``, for example
``data.quantity: must be a whole number >= 0, got -3`` or ``body: not valid JSON (...)``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Final, TypedDict, TypeVar

from marketsync.frozen import quick_init
from marketsync.schemas import validation as check
from marketsync.schemas.validation import (
    MISSING,
    ContractError,
    InvalidMessage,
    UnknownEventType,
    UnsupportedSchemaVersion,
)

__all__ = [
    "DEAD_LETTER_QUEUE",
    "EVENT_TYPES",
    "EXCHANGE",
    "MAX_BODY_BYTES",
    "SCHEMA_VERSION",
    "ContractError",
    "InvalidMessage",
    "Money",
    "OrderShipped",
    "ProductChanged",
    "ProductListed",
    "ProductRemoved",
    "ProductStopped",
    "ShippedItem",
    "StorefrontEvent",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "new_event_id",
    "parse_message",
    "routing_key",
    "to_body",
    "to_dict",
]

EXCHANGE: Final = "marketsync.storefront"
DEAD_LETTER_QUEUE: Final = "marketsync.storefront.dead"
SCHEMA_VERSION: Final = 1
MAX_BODY_BYTES: Final = 65536

_T = TypeVar("_T")


def routing_key(event_type: str, account: str) -> str:
    """The routing key a hook publishes with: ``<type>.<account>``."""
    return f"{event_type}.{account}"


def new_event_id() -> str:
    """A fresh event id (random UUID, lower-case): the idempotency key of one change."""
    return str(uuid.uuid4())


def _utc_now() -> datetime:
    return datetime.now(UTC)


@quick_init
@dataclass(frozen=True, slots=True)
class Money:
    """A positive price: ``amount`` has at most 2 decimal places; ``currency`` is ISO 4217."""

    amount: Decimal
    currency: str

    @classmethod
    def decode(cls, path: str, raw: object) -> Money:
        obj = check.json_object(path, raw)
        return cls(
            amount=check.amount(f"{path}.amount", obj.get("amount", MISSING)),
            currency=check.currency(f"{path}.currency", obj.get("currency", MISSING)),
        )

    def encode(self) -> dict[str, Any]:
        return {"amount": format(self.amount, "f"), "currency": self.currency}


@quick_init
@dataclass(frozen=True, slots=True)
class ShippedItem:
    """One order line of a shipment: Amazon's order item id and how many of it shipped."""

    order_item_id: str
    quantity: int

    @classmethod
    def decode(cls, path: str, raw: object) -> ShippedItem:
        obj = check.json_object(path, raw)
        return cls(
            order_item_id=check.text(f"{path}.order_item_id", obj.get("order_item_id", MISSING)),
            quantity=check.shipped_quantity(f"{path}.quantity", obj.get("quantity", MISSING)),
        )

    def encode(self) -> dict[str, Any]:
        return {"order_item_id": self.order_item_id, "quantity": self.quantity}


class Envelope(TypedDict):
    """The fields every event carries, as keyword arguments for its constructor."""

    id: str
    account: str
    marketplace_id: str
    occurred_at: datetime
    schema_version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class _Event:
    event_type: ClassVar[str]

    id: str = field(default_factory=new_event_id)
    account: str
    marketplace_id: str
    occurred_at: datetime = field(default_factory=_utc_now)
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, kw_only=True, slots=True)
class _ProductEvent(_Event):
    sku: str
    version: int


def _required(data: Mapping[str, Any], key: str, rule: Callable[[str, object], _T]) -> _T:
    return rule(f"data.{key}", data.get(key, MISSING))


def _optional(data: Mapping[str, Any], key: str, rule: Callable[[str, object], _T]) -> _T | None:
    return check.optional(rule, f"data.{key}", data.get(key, MISSING))


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


@quick_init
@dataclass(frozen=True, kw_only=True, slots=True)
class ProductChanged(_ProductEvent):
    """A SKU's stock, price or both changed (absolute values, never deltas)."""

    event_type: ClassVar[str] = "product.changed"

    quantity: int | None = None
    price: Money | None = None

    @classmethod
    def decode(cls, envelope: Envelope, data: Mapping[str, Any]) -> ProductChanged:
        quantity = _optional(data, "quantity", check.quantity)
        price = _optional(data, "price", Money.decode)
        if quantity is None and price is None:
            raise InvalidMessage("data: must carry quantity, price or both, got neither")
        return cls(
            **envelope,
            sku=_required(data, "sku", check.sku),
            version=_required(data, "version", check.version),
            quantity=quantity,
            price=price,
        )

    def encode(self) -> dict[str, Any]:
        price = None if self.price is None else self.price.encode()
        return _without_none(
            {"sku": self.sku, "version": self.version, "quantity": self.quantity, "price": price}
        )


@quick_init
@dataclass(frozen=True, kw_only=True, slots=True)
class ProductListed(_ProductEvent):
    """Offer a SKU on Amazon against an existing catalog item (by ASIN, EAN or UPC)."""

    event_type: ClassVar[str] = "product.listed"

    asin: str | None = None
    ean: str | None = None
    upc: str | None = None
    condition: str = "new_new"
    quantity: int
    price: Money

    @classmethod
    def decode(cls, envelope: Envelope, data: Mapping[str, Any]) -> ProductListed:
        asin = _optional(data, "asin", check.asin)
        ean = _optional(data, "ean", check.ean)
        upc = _optional(data, "upc", check.upc)
        if asin is None and ean is None and upc is None:
            raise InvalidMessage("data: must identify the product by asin, ean or upc, got none")
        return cls(
            **envelope,
            sku=_required(data, "sku", check.sku),
            version=_required(data, "version", check.version),
            asin=asin,
            ean=ean,
            upc=upc,
            condition=_optional(data, "condition", check.condition) or "new_new",
            quantity=_required(data, "quantity", check.quantity),
            price=_required(data, "price", Money.decode),
        )

    def encode(self) -> dict[str, Any]:
        return _without_none(
            {
                "sku": self.sku,
                "version": self.version,
                "asin": self.asin,
                "ean": self.ean,
                "upc": self.upc,
                "condition": self.condition,
                "quantity": self.quantity,
                "price": self.price.encode(),
            }
        )


@quick_init
@dataclass(frozen=True, kw_only=True, slots=True)
class ProductStopped(_ProductEvent):
    """Stop selling a SKU: send quantity 0 and stop syncing it."""

    event_type: ClassVar[str] = "product.stopped"

    @classmethod
    def decode(cls, envelope: Envelope, data: Mapping[str, Any]) -> ProductStopped:
        return cls(
            **envelope,
            sku=_required(data, "sku", check.sku),
            version=_required(data, "version", check.version),
        )

    def encode(self) -> dict[str, Any]:
        return {"sku": self.sku, "version": self.version}


@quick_init
@dataclass(frozen=True, kw_only=True, slots=True)
class ProductRemoved(_ProductEvent):
    """Remove a SKU: send quantity 0, then delete the listing."""

    event_type: ClassVar[str] = "product.removed"

    @classmethod
    def decode(cls, envelope: Envelope, data: Mapping[str, Any]) -> ProductRemoved:
        return cls(
            **envelope,
            sku=_required(data, "sku", check.sku),
            version=_required(data, "version", check.version),
        )

    def encode(self) -> dict[str, Any]:
        return {"sku": self.sku, "version": self.version}


def _shipped_items(path: str, raw: object) -> tuple[ShippedItem, ...]:
    """The items of a shipment: at least one, each order item at most once."""
    items = tuple(
        ShippedItem.decode(f"{path}[{index}]", item)
        for index, item in enumerate(check.non_empty_array(path, raw))
    )
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        seen = first_index.setdefault(item.order_item_id, index)
        if seen != index:
            check.fail(
                f"{path}[{index}].order_item_id",
                f"must differ from items[{seen}]'s",
                item.order_item_id,
            )
    return items


@quick_init
@dataclass(frozen=True, kw_only=True, slots=True)
class OrderShipped(_Event):
    """An Amazon order (or part of it) left the warehouse: confirm it with tracking."""

    event_type: ClassVar[str] = "order.shipped"

    amazon_order_id: str
    carrier: str
    tracking_number: str
    ship_date: datetime
    items: tuple[ShippedItem, ...]
    carrier_name: str | None = None
    shipping_method: str | None = None

    @classmethod
    def decode(cls, envelope: Envelope, data: Mapping[str, Any]) -> OrderShipped:
        carrier = _required(data, "carrier", check.text)
        carrier_name = _optional(data, "carrier_name", check.text)
        if carrier == "Other" and carrier_name is None:
            raise InvalidMessage('data.carrier_name: is required when carrier is "Other"')
        return cls(
            **envelope,
            amazon_order_id=_required(data, "amazon_order_id", check.amazon_order_id),
            carrier=carrier,
            tracking_number=_required(data, "tracking_number", check.text),
            ship_date=_required(data, "ship_date", check.timestamp),
            items=_required(data, "items", _shipped_items),
            carrier_name=carrier_name,
            shipping_method=_optional(data, "shipping_method", check.text),
        )

    def encode(self) -> dict[str, Any]:
        return _without_none(
            {
                "amazon_order_id": self.amazon_order_id,
                "carrier": self.carrier,
                "tracking_number": self.tracking_number,
                "ship_date": check.format_timestamp("data.ship_date", self.ship_date),
                "items": [item.encode() for item in self.items],
                "carrier_name": self.carrier_name,
                "shipping_method": self.shipping_method,
            }
        )


StorefrontEvent = ProductChanged | ProductListed | ProductStopped | ProductRemoved | OrderShipped

EVENT_TYPES: Final[Mapping[str, type[StorefrontEvent]]] = MappingProxyType(
    {
        cls.event_type: cls
        for cls in (ProductChanged, ProductListed, ProductStopped, ProductRemoved, OrderShipped)
    }
)
"""The one registry: wire type name → event class (each class decodes and encodes its data)."""

_KNOWN_TYPES: Final = ", ".join(sorted(EVENT_TYPES))


def _event_class(message: Mapping[str, Any]) -> type[StorefrontEvent]:
    version = check.whole_number(
        "schema_version", message.get("schema_version", MISSING), low=1, high=check.MAX_VERSION
    )
    if version != SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(
            f"schema_version: must be {SCHEMA_VERSION} (the only version known here), got {version}"
        )
    raw_type = message.get("type", MISSING)
    if type(raw_type) is not str:
        check.fail("type", f"must be one of {_KNOWN_TYPES}", raw_type)
    cls = EVENT_TYPES.get(raw_type)
    if cls is None:
        raise UnknownEventType(f"type: must be one of {_KNOWN_TYPES}, got {check.show(raw_type)}")
    return cls


def _envelope(message: Mapping[str, Any]) -> Envelope:
    return Envelope(
        id=check.event_id("id", message.get("id", MISSING)),
        account=check.account("account", message.get("account", MISSING)),
        marketplace_id=check.marketplace_id(
            "marketplace_id", message.get("marketplace_id", MISSING)
        ),
        occurred_at=check.timestamp("occurred_at", message.get("occurred_at", MISSING)),
        schema_version=SCHEMA_VERSION,
    )


def parse_message(body: bytes) -> StorefrontEvent:
    """The event a message body carries.

    Raises :class:`InvalidMessage` (and nothing else, whatever the bytes) when the body breaks
    the contract; its ``reason`` names the first offending field and why.
    """
    message = check.json_object("body", check.load_json(body, max_bytes=MAX_BODY_BYTES))
    cls = _event_class(message)
    envelope = _envelope(message)
    return cls.decode(envelope, check.json_object("data", message.get("data", MISSING)))


def to_dict(event: StorefrontEvent) -> dict[str, Any]:
    """The JSON object for ``event``, as written on the wire (:func:`to_body` also checks it)."""
    return {
        "id": event.id,
        "type": event.event_type,
        "schema_version": event.schema_version,
        "account": event.account,
        "marketplace_id": event.marketplace_id,
        "occurred_at": check.format_timestamp("occurred_at", event.occurred_at),
        "data": event.encode(),
    }


def to_body(event: StorefrontEvent) -> bytes:
    """The message body for ``event``: compact UTF-8 JSON that :func:`parse_message` reads
    back as an equal event (id lower-cased, times in UTC).

    Raises :class:`InvalidMessage` if the event breaks the contract (a negative quantity, a
    naive datetime, ...), so a publisher never sends what the consumer would dead-letter.
    """
    try:
        text = json.dumps(to_dict(event), ensure_ascii=False, separators=(",", ":"))
        body = text.encode("utf-8")
    except (TypeError, ValueError) as error:  # UnicodeEncodeError is a ValueError
        raise InvalidMessage(f"event: cannot be written as JSON ({type(error).__name__})") from None
    parse_message(body)
    return body
