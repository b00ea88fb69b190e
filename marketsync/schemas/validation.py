"""The rules of contract v1, field by field, and the errors they raise.

Each check takes the field's path and its decoded JSON value and returns the typed value or
raises :class:`InvalidMessage` with a one-line reason.

Errors::

    ContractError                  anything this package refuses
     └── InvalidMessage(reason)    the body can never be accepted as it is: dead-letter it
          ├── UnsupportedSchemaVersion   a schema_version this code does not know
          └── UnknownEventType           a type this code does not know

A reason reads ``"<path>: <what the field must be>, got <what it was>"``, for example
``data.quantity: must be a whole number >= 0, got -3``. Values are shown as JSON, escaped
and shortened, so a reason is always one printable ASCII line (fit for an AMQP header).

The checks are ``type() is`` tests and precompiled regular expressions (``[0-9]``, never
``\\d``, which matches any Unicode digit): they run on the consumer's hot path, once per
field of every message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, NoReturn, TypeVar

from marketsync import jsoncodec


class ContractError(Exception):
    """Base of every error raised by :mod:`marketsync.schemas`."""


class InvalidMessage(ContractError):
    """A message that breaks the storefront contract; ``reason`` says which field and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedSchemaVersion(InvalidMessage):
    """The envelope's schema_version is not one this code knows."""


class UnknownEventType(InvalidMessage):
    """The envelope's type is not in the registry."""


_T = TypeVar("_T")


class _Missing:
    """Marks a key absent from its object (as opposed to present with ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

MAX_VERSION: Final = 2**63 - 1
MAX_QUANTITY: Final = 2**31 - 1
MAX_SKU_CHARS: Final = 40  # Amazon's limit for a seller SKU
MAX_TEXT_CHARS: Final = 64
CONDITIONS: Final = frozenset(  # Amazon's condition_type values
    {
        "new_new",
        "new_open_box",
        "new_oem",
        "refurbished_refurbished",
        "used_like_new",
        "used_very_good",
        "used_good",
        "used_acceptable",
        "collectible_like_new",
        "collectible_very_good",
        "collectible_good",
        "collectible_acceptable",
        "club_club",
    }
)

_SHOWN_CHARS = 40
_ACCOUNT = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MARKETPLACE = re.compile(r"[A-Z0-9]{8,20}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ORDER_ID = re.compile(r"[0-9]{3}-[0-9]{7}-[0-9]{7}")
_ASIN = re.compile(r"[A-Z0-9]{10}")
_EAN = re.compile(r"[0-9]{8}|[0-9]{13}")
_UPC = re.compile(r"[0-9]{12}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_AMOUNT = re.compile(r"([0-9]{1,10})(?:\.([0-9]{1,2}))?")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def show(value: object) -> str:
    """``value`` as a short, escaped, single-line JSON-ish text for a reason."""
    if value is MISSING:
        return "nothing"
    if isinstance(value, dict):
        return "an object" if value else "{}"
    if isinstance(value, list):
        return "an array" if value else "[]"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"a {len(str(abs(value)))}-digit number"
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return json.dumps(value[:_SHOWN_CHARS]) + f" (+{len(value) - _SHOWN_CHARS} chars)"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return type(value).__name__


def fail(path: str, expected: str, value: object) -> NoReturn:
    """Raise the reason ``"<path>: <expected>, got <value>"`` (``is required`` when missing)."""
    if value is MISSING:
        raise InvalidMessage(f"{path}: is required ({expected})")
    raise InvalidMessage(f"{path}: {expected}, got {show(value)}")


def optional(check: Callable[[str, object], _T], path: str, value: object) -> _T | None:
    """``check(path, value)``, or None when the field is missing or ``null``."""
    return None if value is None or value is MISSING else check(path, value)


def load_json(body: object, *, max_bytes: int) -> object:
    """The JSON value in ``body``: at most ``max_bytes`` bytes of UTF-8."""
    if not isinstance(body, bytes | bytearray):
        raise InvalidMessage(f"body: must be bytes, got {type(body).__name__}")
    if len(body) > max_bytes:
        raise InvalidMessage(f"body: must be at most {max_bytes} bytes, got {len(body)}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidMessage(
            f"body: not valid UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    try:
        return jsoncodec.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidMessage(f"body: not valid JSON ({error.msg} at char {error.pos})") from None
    except RecursionError:
        raise InvalidMessage("body: not acceptable JSON (nested too deeply)") from None
    except ValueError:  # e.g. an integer literal longer than Python's 4300-digit limit
        raise InvalidMessage("body: not acceptable JSON (a number has too many digits)") from None


def json_object(path: str, value: object) -> dict[str, Any]:
    if type(value) is not dict:
        fail(path, "must be an object", value)
    return value


def non_empty_array(path: str, value: object) -> list[Any]:
    if type(value) is not list or not value:
        fail(path, "must be a non-empty array", value)
    return value


def whole_number(path: str, value: object, *, low: int, high: int) -> int:
    """An int in [low, high]; a bool or a float (even 1.0) is not a whole number here."""
    if type(value) is not int:
        fail(path, f"must be a whole number >= {low}", value)
    if value < low:
        fail(path, f"must be a whole number >= {low}", value)
    if value > high:
        fail(path, f"must be a whole number <= {high}", value)
    return value


def printable_text(path: str, value: object, *, max_chars: int) -> str:
    """1..max_chars printable characters (``str.isprintable``: no control, format,
    surrogate or separator characters other than the ASCII space), without leading or
    trailing space. Anything else -- quotes, ``;``, ``$()``, emoji -- is kept verbatim."""
    if type(value) is not str:
        fail(path, "must be a string", value)
    if not 0 < len(value) <= max_chars:
        fail(path, f"must be 1 to {max_chars} characters", value)
    if not value.isprintable():
        fail(path, "must not contain control or other non-printable characters", value)
    if value[0] == " " or value[-1] == " ":
        fail(path, "must not start or end with a space", value)
    return value


def matching(path: str, value: object, pattern: re.Pattern[str], expected: str) -> str:
    """A string the whole of which matches ``pattern``; ``expected`` describes it."""
    if type(value) is not str or pattern.fullmatch(value) is None:
        fail(path, f"must be {expected}", value)
    return value


def one_of(path: str, value: object, allowed: frozenset[str]) -> str:
    if type(value) is not str or value not in allowed:
        fail(path, f"must be one of {', '.join(sorted(allowed))}", value)
    return value


def event_id(path: str, value: object) -> str:
    """A UUID in its 8-4-4-4-12 hex form, returned lower-case."""
    return matching(path, value, _UUID, "a UUID like 6f1c2a9e-...-...").lower()


def amount(path: str, value: object) -> Decimal:
    """A decimal string > 0 with at most 10 integer digits and 2 decimal places."""
    expected = 'a decimal string like "19.99" (> 0, at most 2 decimal places)'
    if type(value) is not str or _AMOUNT.fullmatch(value) is None:
        fail(path, f"must be {expected}", value)
    result = Decimal(value)
    if result <= 0:
        fail(path, "must be greater than 0", value)
    return result


def timestamp(path: str, value: object) -> datetime:
    """An RFC 3339 date-time with seconds and an offset, returned in UTC."""
    expected = "an RFC 3339 time with offset like 2026-11-24T21:00:00Z"
    if type(value) is not str or _TIMESTAMP.fullmatch(value) is None:
        fail(path, f"must be {expected}", value)
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):
        fail(path, f"must be a real point in time ({expected})", value)


def format_timestamp(path: str, value: datetime) -> str:
    """The wire form of a timezone-aware datetime: UTC, ``Z``, microseconds only if any."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidMessage(f"{path}: must be timezone-aware, got a naive datetime")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise InvalidMessage(f"{path}: must fall within years 1 to 9999 in UTC") from None
    return utc.replace(tzinfo=None).isoformat() + "Z"


# --- the v1 fields ---------------------------------------------------------------------------


def account(path: str, value: object) -> str:
    return matching(path, value, _ACCOUNT, "1 to 64 of A-Z a-z 0-9 . _ -")


def marketplace_id(path: str, value: object) -> str:
    return matching(path, value, _MARKETPLACE, "8 to 20 capital letters or digits")


def sku(path: str, value: object) -> str:
    return printable_text(path, value, max_chars=MAX_SKU_CHARS)


def text(path: str, value: object) -> str:
    """A free-text field (carrier, tracking number, order item id, ...)."""
    return printable_text(path, value, max_chars=MAX_TEXT_CHARS)


def version(path: str, value: object) -> int:
    return whole_number(path, value, low=0, high=MAX_VERSION)


def quantity(path: str, value: object) -> int:
    return whole_number(path, value, low=0, high=MAX_QUANTITY)


def shipped_quantity(path: str, value: object) -> int:
    return whole_number(path, value, low=1, high=MAX_QUANTITY)


def currency(path: str, value: object) -> str:
    return matching(path, value, _CURRENCY, "3 capital letters")


def condition(path: str, value: object) -> str:
    return one_of(path, value, CONDITIONS)


def asin(path: str, value: object) -> str:
    return matching(path, value, _ASIN, "an ASIN: 10 capital letters or digits")


def ean(path: str, value: object) -> str:
    return matching(path, value, _EAN, "an EAN: 8 or 13 digits")


def upc(path: str, value: object) -> str:
    return matching(path, value, _UPC, "a UPC: 12 digits")


def amazon_order_id(path: str, value: object) -> str:
    return matching(path, value, _ORDER_ID, "an Amazon order id like 028-1234567-1234567")
