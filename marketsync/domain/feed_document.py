"""JSON_LISTINGS_FEED documents out, processing reports in.

The document follows Amazon's ``listings-feed-schema-v2.json``: quantity as a PATCH of
``/attributes/fulfillment_availability``, price as a PATCH of ``/attributes/purchasable_offer``,
one message per SKU. The report is read per ``messageId``: an item with an ERROR issue is
rejected with Amazon's code and message, every other item is accepted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marketsync.domain.events import ItemRejection, JobItem

FEED_TYPE = "JSON_LISTINGS_FEED"
CONTENT_TYPE = "application/json; charset=UTF-8"
PRODUCT_TYPE = "PRODUCT"
MAX_MESSAGES = 25_000


class ReportUnreadable(Exception):
    """The processing report is not the JSON Amazon's schema describes."""


def quantity_patch(quantity: int) -> dict[str, Any]:
    return {
        "op": "replace",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
    }


def price_patch(marketplace: str, amount: str, currency: str) -> dict[str, Any]:
    return {
        "op": "replace",
        "path": "/attributes/purchasable_offer",
        "value": [
            {
                "marketplace_id": marketplace,
                "currency": currency,
                "audience": "ALL",
                "our_price": [{"schedule": [{"value_with_tax": float(Decimal(amount))}]}],
            }
        ],
    }


def _offer_attributes(item: JobItem, marketplace: str) -> dict[str, Any]:
    """An offer on an existing ASIN (requirements LISTING_OFFER_ONLY)."""
    attributes: dict[str, Any] = {
        "merchant_suggested_asin": [{"value": item.asin, "marketplace_id": marketplace}],
        "condition_type": [{"value": item.condition or "new_new", "marketplace_id": marketplace}],
    }
    if item.price is not None and item.currency is not None:
        attributes["purchasable_offer"] = price_patch(marketplace, item.price, item.currency)[
            "value"
        ]
    if item.quantity is not None:
        attributes["fulfillment_availability"] = quantity_patch(item.quantity)["value"]
    return attributes


def message_for(item: JobItem, marketplace: str) -> dict[str, Any]:
    base: dict[str, Any] = {"messageId": item.message_id, "sku": item.sku}
    if item.action == "delete":
        return {**base, "operationType": "DELETE"}
    if item.action == "list":
        return {
            **base,
            "operationType": "UPDATE",
            "productType": PRODUCT_TYPE,
            "requirements": "LISTING_OFFER_ONLY",
            "attributes": _offer_attributes(item, marketplace),
        }
    patches = []
    if item.quantity is not None:
        patches.append(quantity_patch(item.quantity))
    if item.price is not None and item.currency is not None:
        patches.append(price_patch(marketplace, item.price, item.currency))
    return {**base, "operationType": "PATCH", "productType": PRODUCT_TYPE, "patches": patches}


def encode(document: dict[str, Any]) -> str:
    """The exact text sent: compact, UTF-8, stable key order."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def message_size(item: JobItem, marketplace: str) -> int:
    """Bytes this item's message adds to a document (plus its separating comma)."""
    return len(encode(message_for(item, marketplace)).encode("utf-8")) + 1


def build_document(seller_id: str, marketplace: str, items: Sequence[JobItem]) -> str:
    if not 1 <= len(items) <= MAX_MESSAGES:
        raise ValueError(f"a feed carries 1 to {MAX_MESSAGES} messages, not {len(items)}")
    document = {
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
        "messages": [message_for(item, marketplace) for item in items],
    }
    return encode(document)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: tuple[str, ...]
    rejected: tuple[ItemRejection, ...]


def _errors_by_message(issues: Iterable[dict[str, Any]]) -> tuple[dict[int, list[str]], list[str]]:
    per_message: dict[int, list[str]] = {}
    feed_level: list[str] = []
    for issue in issues:
        if issue.get("severity") != "ERROR":
            continue
        text = f"{issue.get('code', '')}\x1f{issue.get('message', '')}"
        message_id = issue.get("messageId")
        if isinstance(message_id, int):
            per_message.setdefault(message_id, []).append(text)
        else:
            feed_level.append(text)
    return per_message, feed_level


def _rejection(sku: str, errors: list[str]) -> ItemRejection:
    codes, messages = zip(*(e.split("\x1f", 1) for e in errors), strict=True)
    return ItemRejection(sku=sku, code=",".join(c for c in codes if c), message="; ".join(messages))


def read_report(report_text: str, items: Sequence[JobItem]) -> Outcome:
    """Per item: accepted, or rejected with Amazon's code(s) and message(s)."""
    try:
        report = json.loads(report_text)
        issues = report["issues"]
        if not isinstance(issues, list):
            raise TypeError("issues is not a list")
    except (ValueError, KeyError, TypeError) as e:
        raise ReportUnreadable(f"processing report unreadable: {e}") from None
    per_message, feed_level = _errors_by_message(issues)
    accepted: list[str] = []
    rejected: list[ItemRejection] = []
    for item in items:
        errors = feed_level + per_message.get(item.message_id, [])
        if errors:
            rejected.append(_rejection(item.sku, errors))
        else:
            accepted.append(item.sku)
    return Outcome(accepted=tuple(accepted), rejected=tuple(rejected))
