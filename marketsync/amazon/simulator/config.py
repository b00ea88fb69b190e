"""The simulator's configuration: the accounts it knows and the ``[simulator]`` TOML table.

Keys of ``[simulator]`` (all optional)::

    time_scale          1.0   bucket rates x time_scale, processing durations / time_scale
    in_queue_seconds    2.0   how long a feed stays IN_QUEUE (before scaling)
    in_progress_seconds 3.0   how long a feed stays IN_PROGRESS (before scaling)
    gzip_reports        false serve processing reports gzipped (compressionAlgorithm GZIP)
    public_url          ""    base URL clients reach the simulator at (document URLs use it)
    limits              {}    operation = { rate, burst } overriding Amazon's defaults
    rules               {}    see ``rules.Rules``
    listings            []    [{ seller_id, sku, marketplace_id, quantity, price, currency, asin }]
    faults              {}    see :class:`Faults`

Every problem is a :class:`marketsync.settings.ConfigError` naming the key to fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from marketsync.domain.token_bucket import DEFAULT_LIMITS
from marketsync.settings import ConfigError, Limit, Settings, parse_limits

from .rules import MARKETPLACE_CURRENCY, Listing, Rules, normalise_price

FEED_OPERATIONS = (
    "createFeedDocument",
    "createFeed",
    "getFeed",
    "getFeeds",
    "cancelFeed",
    "getFeedDocument",
)
HOLD_STATUSES = ("IN_QUEUE", "IN_PROGRESS")
_TOP_KEYS = {
    "time_scale", "in_queue_seconds", "in_progress_seconds", "gzip_reports", "public_url",
    "limits", "rules", "listings", "faults",
}  # fmt: skip
_RULE_KEYS = set(Rules.__dataclass_fields__)
_LISTING_KEYS = {"seller_id", "sku", "marketplace_id", "quantity", "price", "currency", "asin"}
_FAULT_KEYS = {
    "throttle", "server_error", "delay", "fatal_feeds", "cancel_feeds", "hold", "announce_rate",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AccountCredentials:
    """What an account's LWA token request must carry. ``repr`` hides the secrets."""

    seller_id: str
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ServerError:
    count: int
    status: int = 500


@dataclass(frozen=True, slots=True)
class Hold:
    status: str  # IN_QUEUE | IN_PROGRESS
    count: int


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour to inject. Counters are consumed by the calls or feeds they hit."""

    throttle: Mapping[str, int] = field(default_factory=dict)
    server_error: Mapping[str, ServerError] = field(default_factory=dict)
    delay: Mapping[str, float] = field(default_factory=dict)
    fatal_feeds: int = 0
    cancel_feeds: int = 0
    hold: Hold | None = None
    announce_rate: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "throttle": dict(self.throttle),
            "server_error": {
                op: {"count": e.count, "status": e.status} for op, e in self.server_error.items()
            },
            "delay": dict(self.delay),
            "fatal_feeds": self.fatal_feeds,
            "cancel_feeds": self.cancel_feeds,
            "hold": None
            if self.hold is None
            else {"status": self.hold.status, "count": self.hold.count},
            "announce_rate": dict(self.announce_rate),
        }


@dataclass(frozen=True, slots=True)
class SeedListing:
    seller_id: str
    marketplace_id: str
    listing: Listing


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    accounts: tuple[AccountCredentials, ...] = ()
    time_scale: float = 1.0
    in_queue_seconds: float = 2.0
    in_progress_seconds: float = 3.0
    gzip_reports: bool = False
    public_url: str | None = None
    limits: Mapping[str, Limit] = field(default_factory=lambda: MappingProxyType({}))
    rules: Rules = field(default_factory=Rules)
    listings: tuple[SeedListing, ...] = ()
    faults: Faults = field(default_factory=Faults)

    @classmethod
    def from_settings(cls, settings: Settings) -> SimulatorConfig:
        accounts = tuple(
            AccountCredentials(
                seller_id=a.seller_id,
                client_id=a.lwa_client_id.reveal(),
                client_secret=a.lwa_client_secret.reveal(),
                refresh_token=a.refresh_token.reveal(),
            )
            for a in settings.accounts
        )
        return cls.from_mapping(settings.simulator, accounts)

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any], accounts: tuple[AccountCredentials, ...]
    ) -> SimulatorConfig:
        _no_unknown(raw, _TOP_KEYS, "[simulator]")
        sellers = {a.seller_id for a in accounts}
        return cls(
            accounts=accounts,
            time_scale=_positive(raw.get("time_scale", 1.0), "[simulator].time_scale"),
            in_queue_seconds=_seconds(
                raw.get("in_queue_seconds", 2.0), "[simulator].in_queue_seconds"
            ),
            in_progress_seconds=_seconds(
                raw.get("in_progress_seconds", 3.0), "[simulator].in_progress_seconds"
            ),
            gzip_reports=_bool(raw.get("gzip_reports", False), "[simulator].gzip_reports"),
            public_url=_public_url(raw.get("public_url")),
            limits=_limits(raw.get("limits") or {}),
            rules=parse_rules(raw.get("rules") or {}),
            listings=tuple(
                _seed(item, i, sellers) for i, item in enumerate(_list(raw.get("listings") or []))
            ),
            faults=parse_faults(raw.get("faults") or {}, "[simulator.faults]"),
        )

    def limit(self, key: str) -> Limit:
        """The bucket for ``key`` (an operation or ``JSON_LISTINGS_FEED``), time-scaled."""
        base = self.limits.get(key)
        if base is None:
            rate, burst = DEFAULT_LIMITS[key]
            base = Limit(rate, burst)
        return Limit(base.rate * self.time_scale, base.burst)

    @property
    def queue_duration(self) -> float:
        return self.in_queue_seconds / self.time_scale

    @property
    def progress_duration(self) -> float:
        return self.in_progress_seconds / self.time_scale


def parse_rules(raw: object) -> Rules:
    where = "[simulator.rules]"
    table = _table(raw, where)
    _no_unknown(table, _RULE_KEYS, where)
    defaults = Rules()
    try:
        return Rules(
            max_price=Decimal(normalise_price(table.get("max_price", defaults.max_price))),
            min_price=Decimal(normalise_price(table.get("min_price", defaults.min_price))),
            max_quantity=_count(
                table.get("max_quantity", defaults.max_quantity), f"{where}.max_quantity"
            ),
            restricted_asins=_strings(
                table.get("restricted_asins", []), f"{where}.restricted_asins"
            ),
            unknown_asins=_strings(table.get("unknown_asins", []), f"{where}.unknown_asins"),
            known_asins=_strings(table.get("known_asins", []), f"{where}.known_asins"),
            reject_skus=_strings(table.get("reject_skus", []), f"{where}.reject_skus"),
            patch_requires_listing=_bool(
                table.get("patch_requires_listing", True), f"{where}.patch_requires_listing"
            ),
        )
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def parse_faults(raw: object, where: str = "faults") -> Faults:
    """Faults from the TOML table or from ``PUT /_simulator/faults`` (same shape)."""
    table = _table(raw, where)
    _no_unknown(table, _FAULT_KEYS, where)
    return Faults(
        throttle={
            op: _count(n, f"{where}.throttle.{op}") for op, n in _ops(table, "throttle", where)
        },
        server_error={
            op: _server_error(spec, f"{where}.server_error.{op}")
            for op, spec in _ops(table, "server_error", where)
        },
        delay={op: _seconds(s, f"{where}.delay.{op}") for op, s in _ops(table, "delay", where)},
        fatal_feeds=_count(table.get("fatal_feeds", 0), f"{where}.fatal_feeds"),
        cancel_feeds=_count(table.get("cancel_feeds", 0), f"{where}.cancel_feeds"),
        hold=_hold(table.get("hold"), f"{where}.hold"),
        announce_rate={
            op: _positive(r, f"{where}.announce_rate.{op}")
            for op, r in _ops(table, "announce_rate", where)
        },
    )


def default_asin(sku: str) -> str:
    """A stable catalog-looking ASIN for a listing created without one."""
    digest = hashlib.sha1(sku.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
    return f"B0{digest[:8]}"


def _seed(raw: object, index: int, sellers: set[str]) -> SeedListing:
    where = f"[simulator].listings[{index}]"
    table = _table(raw, where)
    _no_unknown(table, _LISTING_KEYS, where)
    try:
        seller_id, sku, marketplace_id = table["seller_id"], table["sku"], table["marketplace_id"]
    except KeyError as e:
        raise ConfigError(f"{where}: missing {e.args[0]!r}") from None
    if seller_id not in sellers:
        raise ConfigError(f"{where}.seller_id: {seller_id!r} is not the seller_id of an account")
    try:
        price = None if table.get("price") is None else normalise_price(table["price"])
    except ValueError as e:
        raise ConfigError(f"{where}.price: {e}") from None
    listing = Listing(
        sku=str(sku),
        asin=str(table.get("asin") or default_asin(str(sku))),
        quantity=_count(table.get("quantity", 0), f"{where}.quantity"),
        price=price,
        currency=str(table.get("currency") or MARKETPLACE_CURRENCY.get(marketplace_id, "USD")),
    )
    return SeedListing(
        seller_id=str(seller_id), marketplace_id=str(marketplace_id), listing=listing
    )


def _limits(raw: object) -> Mapping[str, Limit]:
    return parse_limits(_table(raw, "[simulator.limits]"), "[simulator.limits]")


def _ops(table: Mapping[str, Any], key: str, where: str) -> list[tuple[str, Any]]:
    items = list(_table(table.get(key) or {}, f"{where}.{key}").items())
    for op, _ in items:
        if op not in FEED_OPERATIONS:
            raise ConfigError(
                f"{where}.{key}: unknown operation {op!r}; use one of {FEED_OPERATIONS}"
            )
    return items


def _server_error(raw: object, where: str) -> ServerError:
    table = _table(raw, where)
    _no_unknown(table, {"count", "status"}, where)
    status = table.get("status", 500)
    if status not in (500, 503):
        raise ConfigError(f"{where}.status: expected 500 or 503")
    return ServerError(count=_count(table.get("count", 1), f"{where}.count"), status=int(status))


def _hold(raw: object, where: str) -> Hold | None:
    if raw is None:
        return None
    table = _table(raw, where)
    _no_unknown(table, {"status", "count"}, where)
    if table.get("status") not in HOLD_STATUSES:
        raise ConfigError(f"{where}.status: expected one of {HOLD_STATUSES}")
    return Hold(status=str(table["status"]), count=_count(table.get("count", 1), f"{where}.count"))


def _public_url(raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not raw.startswith(("http://", "https://")):
        raise ConfigError("[simulator].public_url: expected an http(s):// URL")
    return raw.rstrip("/")


def _no_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _table(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    return raw


def _list(raw: object) -> list[Any]:
    if not isinstance(raw, list):
        raise ConfigError("[simulator].listings: expected an array of tables")
    return raw


def _strings(raw: object, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ConfigError(f"{where}: expected a list of strings")
    return frozenset(raw)


def _bool(raw: object, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{where}: expected true or false")
    return raw


def _count(raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ConfigError(f"{where}: expected a whole number >= 0")
    return raw


def _number(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{where}: expected a number")
    return float(raw)


def _positive(raw: object, where: str) -> float:
    value = _number(raw, where)
    if value <= 0:
        raise ConfigError(f"{where}: must be > 0")
    return value


def _seconds(raw: object, where: str) -> float:
    value = _number(raw, where)
    if value < 0:
        raise ConfigError(f"{where}: must be >= 0")
    return value
