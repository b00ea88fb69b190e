"""How the simulated Amazon judges one JSON_LISTINGS_FEED message. Pure: no I/O, no clock.

``evaluate_message`` takes the seller's listings in the feed's marketplace and one message and
returns the issues plus the change to apply; ``process_feed`` folds it over a whole feed
document (in messageId order, each message seeing the previous ones' effect) and builds the
processing report.
Only the two offer attributes the pipeline sends are modelled (``fulfillment_availability``
and ``purchasable_offer``); other attributes are accepted and ignored, as Amazon stores them
without the simulator needing to.

Issue codes (numeric strings, as in Amazon's processing reports)::

    4002001  feed document cannot be parsed (feed level, no messageId)    [Amazon's code]
    4000001  message does not conform to the message schema                [simulator's choice]
    4000003  SKU has no listing in this marketplace (PATCH, DELETE, ...)   [simulator's choice]
    4000005  message rejected for this SKU (rules.reject_skus)             [simulator's choice]
    5665     ASIN is restricted for this seller (approval required)         [Amazon's code]
    8105     attribute value is invalid (quantity, price, currency)         [Amazon's code]
    8541     SKU already matches a different ASIN                           [Amazon's code]
    8566     ASIN not found in the catalog                                  [Amazon's code]
    90220    required attribute not supplied                                [Amazon's code]
    99022    attribute has too few values (e.g. empty ``our_price``)         [Amazon's code]
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeGuard

FEED_UNPARSABLE = "4002001"
MESSAGE_INVALID = "4000001"
SKU_NOT_FOUND = "4000003"
SKU_REJECTED = "4000005"
ASIN_RESTRICTED = "5665"
VALUE_INVALID = "8105"
ASIN_CONFLICT = "8541"
ASIN_NOT_FOUND = "8566"
REQUIRED_MISSING = "90220"
TOO_FEW_VALUES = "99022"

ASIN_PATTERN = re.compile(r"^B0[0-9A-Z]{8}$")
OPERATION_TYPES = ("UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE")
REQUIREMENTS = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
PATCH_OPS = ("add", "replace", "merge", "delete")
QUANTITY_ATTRIBUTE = "fulfillment_availability"
OFFER_ATTRIBUTE = "purchasable_offer"
MAX_MESSAGE_ID = 2_147_483_647
MAX_MESSAGES = 25_000
CENT = Decimal("0.01")
MARKETPLACE_CURRENCY = {
    "ATVPDKIKX0DER": "USD",
    "A2EUQ1WTGCTBG2": "CAD",
    "A1AM78C64UM0Y8": "MXN",
    "A1F83G8C2ARO7P": "GBP",
    "A1PA6795UKMFR9": "EUR",
    "A13V1IB3VIYZZH": "EUR",
    "APJ6JRA9NG5V4": "EUR",
    "A1RKKUPIHCS9HS": "EUR",
    "A1805IZSGTT6HS": "EUR",
    "A1C3SOZRARQ6R3": "PLN",
    "A2NODRKZP88ZB9": "SEK",
    "A1VC38T7YXB528": "JPY",
}


@dataclass(frozen=True, slots=True)
class Rules:
    """The ``[simulator.rules]`` table."""

    max_price: Decimal = Decimal("100000")
    min_price: Decimal = CENT
    max_quantity: int = 1_000_000
    restricted_asins: frozenset[str] = frozenset()
    unknown_asins: frozenset[str] = frozenset()
    known_asins: frozenset[str] = frozenset()  # exist even if they don't look like B0xxxxxxxx
    reject_skus: frozenset[str] = frozenset()
    patch_requires_listing: bool = True

    def asin_exists(self, asin: str) -> bool:
        if asin in self.unknown_asins:
            return False
        return asin in self.known_asins or bool(ASIN_PATTERN.match(asin))


@dataclass(frozen=True, slots=True)
class Listing:
    """One offer of a seller in one marketplace."""

    sku: str
    asin: str | None
    quantity: int = 0
    price: str | None = None  # decimal string, two places
    currency: str = "USD"
    updated_at: str = ""

    @property
    def status(self) -> str:
        buyable = self.asin is not None and self.price is not None and self.quantity > 0
        return "ACTIVE" if buyable else "INACTIVE"


@dataclass(frozen=True, slots=True)
class Issue:
    severity: str
    message: str
    code: str
    message_id: int | None = None
    sku: str | None = None
    attribute_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.message_id is not None:
            body["messageId"] = self.message_id
        if self.sku:
            body["sku"] = self.sku
        body.update(code=self.code, severity=self.severity, message=self.message)
        if self.attribute_name:
            body["attributeName"] = self.attribute_name
        return body


@dataclass(frozen=True, slots=True)
class Put:
    listing: Listing


@dataclass(frozen=True, slots=True)
class Delete:
    sku: str


Change = Put | Delete | None


@dataclass(frozen=True, slots=True)
class Outcome:
    issues: tuple[Issue, ...] = ()
    change: Change = None

    @property
    def accepted(self) -> bool:
        return not any(i.severity == "ERROR" for i in self.issues)


class _Reject(Exception):
    """Raised inside evaluation to turn into one ERROR issue."""

    def __init__(self, code: str, message: str, attribute: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.attribute = code, message, attribute


def normalise_price(value: object) -> str:
    """A price as a two-place decimal string; ``ValueError`` if it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{value!r} is not a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def message_problems(message: object) -> list[str]:
    """Why ``message`` does not conform to Amazon's feed message schema ([] when it does)."""
    if not isinstance(message, dict):
        return ["a message must be a JSON object"]
    problems = [p for p in (_field_problem(message, k) for k in message) if p]
    problems += [
        f"'{k}' is required" for k in ("messageId", "sku", "operationType") if k not in message
    ]
    operation = message.get("operationType")
    if operation in OPERATION_TYPES:
        problems += _operation_problems(operation, message)
    return problems


def _field_problem(message: dict[str, Any], key: str) -> str | None:
    value = message[key]
    if key == "messageId":
        ok = _is_int(value) and 1 <= value <= MAX_MESSAGE_ID
        return None if ok else "'messageId' must be an integer from 1 to 2147483647"
    if key in ("sku", "productType"):
        return None if isinstance(value, str) and value else f"'{key}' must be a non-empty string"
    if key == "operationType":
        return (
            None
            if value in OPERATION_TYPES
            else f"'operationType' must be one of {OPERATION_TYPES}"
        )
    if key == "requirements":
        return None if value in REQUIREMENTS else f"'requirements' must be one of {REQUIREMENTS}"
    if key == "attributes":
        ok = isinstance(value, dict) and len(value) > 0
        return None if ok else "'attributes' must be an object with at least one attribute"
    if key == "patches":
        return _patches_problem(value)
    return None


def _patches_problem(patches: object) -> str | None:
    if not isinstance(patches, list) or not patches:
        return "'patches' must be a non-empty array"
    for patch in patches:
        if not isinstance(patch, dict) or "op" not in patch or "path" not in patch:
            return "each patch needs 'op' and 'path'"
        if patch["op"] not in PATCH_OPS or not isinstance(patch["path"], str):
            return f"patch 'op' must be one of {PATCH_OPS} and 'path' a string"
        value = patch.get("value", [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            return "patch 'value' must be an array of objects"
    return None


def _operation_problems(operation: str, message: dict[str, Any]) -> list[str]:
    required = {
        "UPDATE": ("productType", "attributes"),
        "PARTIAL_UPDATE": ("productType", "attributes"),
        "PATCH": ("productType", "patches"),
        "DELETE": (),
    }[operation]
    forbidden = {
        "UPDATE": ("patches",),
        "PARTIAL_UPDATE": ("requirements", "patches"),
        "PATCH": ("requirements", "attributes"),
        "DELETE": ("requirements", "attributes", "productType", "patches"),
    }[operation]
    return [f"'{k}' is required for {operation}" for k in required if k not in message] + [
        f"'{k}' is not allowed for {operation}" for k in forbidden if k in message
    ]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def evaluate_message(
    message: Mapping[str, Any], marketplace_id: str, listings: Mapping[str, Listing], rules: Rules
) -> Outcome:
    """Judge one schema-valid message against the seller's listings in ``marketplace_id``."""
    sku, operation = message["sku"], message["operationType"]
    try:
        if sku in rules.reject_skus:
            raise _Reject(
                SKU_REJECTED,
                f"The listing for SKU '{sku}' could not be processed. "
                "Resubmit the message or contact Selling Partner Support.",
            )
        current = listings.get(sku)
        if operation == "DELETE":
            _require_listing(current, sku, marketplace_id)
            return Outcome(change=Delete(sku))
        if operation == "UPDATE":
            return Outcome(change=Put(_updated(message, current, marketplace_id, rules)))
        if current is None and rules.patch_requires_listing:
            _require_listing(current, sku, marketplace_id)
        listing = current or Listing(sku=sku, asin=None, currency=_currency(marketplace_id))
        _check_asin_allowed(listing.asin, rules)
        for op, name, value in _patch_ops(message):
            listing = _apply_attribute(listing, op, name, value, marketplace_id, rules)
        return Outcome(change=Put(listing))
    except _Reject as r:
        issue = Issue("ERROR", r.message, r.code, message["messageId"], sku, r.attribute)
        return Outcome(issues=(issue,))


def _require_listing(current: Listing | None, sku: str, marketplace_id: str) -> None:
    if current is None:
        raise _Reject(
            SKU_NOT_FOUND,
            f"The SKU '{sku}' does not exist in marketplace "
            f"'{marketplace_id}'. Create the listing before you update or delete it.",
        )


def _patch_ops(message: Mapping[str, Any]) -> list[tuple[str, str, list[Any]]]:
    if message["operationType"] == "PARTIAL_UPDATE":
        return [("replace", name, value) for name, value in message["attributes"].items()]
    ops = []
    for patch in message["patches"]:
        path = patch["path"]
        name = path.removeprefix("/attributes/")
        if name == path or not name or "/" in name:
            raise _Reject(
                MESSAGE_INVALID,
                f"The patch path '{path}' is not supported; only "
                "top-level attributes ('/attributes/<name>') can be patched.",
            )
        ops.append((patch["op"], name, patch.get("value", [])))
    return ops


def _apply_attribute(
    listing: Listing, op: str, name: str, value: object, marketplace_id: str, rules: Rules
) -> Listing:
    if name == QUANTITY_ATTRIBUTE:
        if op == "delete":
            return replace(listing, quantity=0)
        quantity = _quantity(value, marketplace_id, rules)
        return listing if quantity is None else replace(listing, quantity=quantity)
    if name == OFFER_ATTRIBUTE:
        if op == "delete":
            return replace(listing, price=None)
        offer = _offer(value, marketplace_id, rules)
        if offer is None:
            return listing
        price, currency = offer
        return replace(listing, price=price, currency=currency or listing.currency)
    return listing


def _updated(
    message: Mapping[str, Any], current: Listing | None, marketplace_id: str, rules: Rules
) -> Listing:
    attributes = message["attributes"]
    asin = _suggested_asin(attributes, marketplace_id) or (current.asin if current else None)
    if asin is None:
        raise _Reject(
            REQUIRED_MISSING,
            "'Merchant Suggested ASIN' is required but not supplied.",
            "merchant_suggested_asin",
        )
    if not rules.asin_exists(asin):
        raise _Reject(
            ASIN_NOT_FOUND,
            f"SKU '{message['sku']}' does not match any ASIN: ASIN "
            f"'{asin}' was not found in the Amazon catalog for marketplace "
            f"'{marketplace_id}'.",
            "merchant_suggested_asin",
        )
    _check_asin_allowed(asin, rules)
    if current is not None and current.asin not in (None, asin):
        raise _Reject(
            ASIN_CONFLICT,
            f"The SKU '{message['sku']}' already matches ASIN "
            f"'{current.asin}' and cannot be matched to ASIN '{asin}'. Delete the "
            "listing first or use a new SKU.",
            "merchant_suggested_asin",
        )
    if "condition_type" not in attributes:
        raise _Reject(
            REQUIRED_MISSING, "'Condition' is required but not supplied.", "condition_type"
        )
    offer = _offer(attributes.get(OFFER_ATTRIBUTE, []), marketplace_id, rules)
    quantity = _quantity(attributes.get(QUANTITY_ATTRIBUTE, []), marketplace_id, rules)
    price, currency = offer if offer else (None, None)
    return Listing(
        sku=message["sku"],
        asin=asin,
        quantity=quantity or 0,
        price=price,
        currency=currency or _currency(marketplace_id),
    )


def _suggested_asin(attributes: Mapping[str, Any], marketplace_id: str) -> str | None:
    for entry in _entries(attributes.get("merchant_suggested_asin", []), marketplace_id):
        if isinstance(entry.get("value"), str) and entry["value"]:
            return str(entry["value"])
    return None


def _check_asin_allowed(asin: str | None, rules: Rules) -> None:
    if asin is not None and asin in rules.restricted_asins:
        raise _Reject(
            ASIN_RESTRICTED,
            f"You need approval to list ASIN '{asin}'. This product "
            "is restricted; apply for approval in Seller Central.",
        )


def _entries(value: object, marketplace_id: str) -> list[dict[str, Any]]:
    """The attribute's entries that apply to ``marketplace_id`` (or to every marketplace)."""
    if not isinstance(value, list):
        raise _Reject(
            VALUE_INVALID,
            "The data you provided for an attribute is invalid: an "
            "attribute value must be an array of objects.",
        )
    return [
        v
        for v in value
        if isinstance(v, dict) and v.get("marketplace_id", marketplace_id) == marketplace_id
    ]


def _quantity(value: object, marketplace_id: str, rules: Rules) -> int | None:
    entries = [
        e
        for e in _entries(value, marketplace_id)
        if e.get("fulfillment_channel_code", "DEFAULT") == "DEFAULT" and "quantity" in e
    ]
    if not entries:
        return None
    quantity = entries[0]["quantity"]
    if not _is_int(quantity) or not 0 <= quantity <= rules.max_quantity:
        raise _Reject(
            VALUE_INVALID,
            f"The value '{quantity}' for 'quantity' is invalid; it must "
            f"be a whole number from 0 to {rules.max_quantity}.",
            QUANTITY_ATTRIBUTE,
        )
    return int(quantity)


def _offer(value: object, marketplace_id: str, rules: Rules) -> tuple[str, str | None] | None:
    offers = [o for o in _entries(value, marketplace_id) if o.get("audience", "ALL") == "ALL"]
    if not offers:
        return None
    offer = offers[0]
    schedule = [
        s
        for p in offer.get("our_price") or []
        if isinstance(p, dict)
        for s in p.get("schedule") or []
        if isinstance(s, dict)
    ]
    if not schedule or "value_with_tax" not in schedule[0]:
        raise _Reject(
            TOO_FEW_VALUES,
            "The field 'schedule' for the attribute "
            "'purchasable_offer.our_price' does not have enough values. The required "
            "minimum is '1' value(s).",
            "purchasable_offer.our_price",
        )
    price = _price(schedule[0]["value_with_tax"], rules)
    currency = offer.get("currency")
    if currency is not None and not (
        isinstance(currency, str) and re.fullmatch("[A-Z]{3}", currency)
    ):
        raise _Reject(
            VALUE_INVALID,
            f"The value '{currency}' for 'currency' is not a valid ISO 4217 currency code.",
            "purchasable_offer.currency",
        )
    return price, currency


def _price(value: object, rules: Rules) -> str:
    try:
        price = normalise_price(value)
    except ValueError:
        raise _Reject(
            VALUE_INVALID,
            f"The value '{value}' for 'our_price' is not a number.",
            "purchasable_offer.our_price",
        ) from None
    if not rules.min_price <= Decimal(price) <= rules.max_price:
        raise _Reject(
            VALUE_INVALID,
            f"The price '{price}' for 'our_price' is outside the allowed "
            f"range {rules.min_price} to {rules.max_price}.",
            "purchasable_offer.our_price",
        )
    return price


def _currency(marketplace_id: str) -> str:
    return MARKETPLACE_CURRENCY.get(marketplace_id, "USD")


@dataclass(frozen=True, slots=True)
class FeedResult:
    report: dict[str, Any]  # the processing report (listings-feed-processing-report-schema-v2)
    listings: dict[str, Listing]  # the marketplace's listings after the feed, by SKU
    changed: frozenset[str]  # SKUs put or deleted


def process_feed(
    content: bytes,
    *,
    seller_id: str,
    feed_id: str,
    marketplace_id: str,
    listings: Mapping[str, Listing],
    rules: Rules,
) -> FeedResult:
    """Apply a JSON_LISTINGS_FEED document to ``listings``, in messageId order.

    A document that cannot be parsed is not FATAL on Amazon: the feed is DONE and its report
    carries one feed-level issue (no messageId) with nothing processed.
    """
    header = {"sellerId": seller_id, "version": "2.0", "feedId": feed_id}
    messages, problem = parse_feed_document(content)
    if problem is not None:
        issue = Issue("ERROR", f"Item 'Feed' cannot be parsed. {problem}", FEED_UNPARSABLE)
        return FeedResult(_report(header, [issue], 0, 0), dict(listings), frozenset())
    current, issues, changed = dict(listings), list[Issue](), set[str]()
    accepted, seen = 0, set[int]()
    for message in _in_message_order(messages):
        outcome = _judge(message, seen, marketplace_id, current, rules)
        issues.extend(outcome.issues)
        if outcome.accepted:
            accepted += 1
            _apply(current, outcome.change, changed)
    return FeedResult(_report(header, issues, len(messages), accepted), current, frozenset(changed))


def parse_feed_document(content: bytes) -> tuple[list[Any], str | None]:
    """The document's messages, or why the document as a whole cannot be read."""
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return [], "The document is not UTF-8 encoded."
    except json.JSONDecodeError as e:
        return [], f"Invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}."
    if not isinstance(document, dict):
        return [], "The document must be a JSON object with 'header' and 'messages'."
    header = document.get("header")
    if not isinstance(header, dict) or not isinstance(header.get("sellerId"), str):
        return [], "The 'header' with a 'sellerId' is required."
    if header.get("version") != "2.0":
        return [], "The header 'version' must be '2.0'."
    messages = document.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [], f"'messages' must be an array of 1 to {MAX_MESSAGES} messages."
    return messages, None


def feed_skus(content: bytes) -> tuple[int, tuple[str, ...]]:
    """How many messages a document carries and their SKUs (for the inspection endpoint)."""
    messages, problem = parse_feed_document(content)
    if problem is not None:
        return 0, ()
    skus = (m.get("sku") for m in messages if isinstance(m, dict))
    return len(messages), tuple(s for s in skus if isinstance(s, str))


def _in_message_order(messages: list[Any]) -> list[Any]:
    def key(item: tuple[int, Any]) -> tuple[int, int, int]:
        index, message = item
        message_id = message.get("messageId") if isinstance(message, dict) else None
        return (0, message_id, index) if _is_int(message_id) else (1, 0, index)

    return [m for _, m in sorted(enumerate(messages), key=key)]


def _judge(
    message: Any, seen: set[int], marketplace_id: str, listings: Mapping[str, Listing], rules: Rules
) -> Outcome:
    problems = message_problems(message)
    if not problems and message["messageId"] in seen:
        problems = [f"messageId {message['messageId']} is not unique within the feed"]
    if problems:
        fields = message if isinstance(message, dict) else {}
        message_id = fields.get("messageId")
        sku = fields.get("sku")
        issue = Issue(
            "ERROR",
            "The message does not conform to the JSON_LISTINGS_FEED message schema: "
            + "; ".join(problems)
            + ".",
            MESSAGE_INVALID,
            message_id if _is_int(message_id) and message_id >= 1 else None,
            sku if isinstance(sku, str) and sku else None,
        )
        return Outcome(issues=(issue,))
    seen.add(message["messageId"])
    return evaluate_message(message, marketplace_id, listings, rules)


def _apply(listings: dict[str, Listing], change: Change, changed: set[str]) -> None:
    if isinstance(change, Put):
        listings[change.listing.sku] = change.listing
        changed.add(change.listing.sku)
    elif isinstance(change, Delete):
        listings.pop(change.sku, None)
        changed.add(change.sku)


def _report(
    header: dict[str, Any], issues: list[Issue], processed: int, accepted: int
) -> dict[str, Any]:
    return {
        "header": header,
        "issues": [i.to_json() for i in issues],
        "summary": {
            "errors": sum(1 for i in issues if i.severity == "ERROR"),
            "warnings": sum(1 for i in issues if i.severity == "WARNING"),
            "messagesProcessed": processed,
            "messagesAccepted": accepted,
            "messagesInvalid": processed - accepted,
        },
    }
