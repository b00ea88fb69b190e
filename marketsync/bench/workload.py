"""What the bench feeds the pipeline: its accounts, the settings of a run, storefront changes.

A :class:`RunConfig` is the TOML document and the environment a run's settings are parsed
from; unlike :class:`~marketsync.settings.Settings` it pickles, so a child process rebuilds
the very same settings from it.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marketsync.domain.token_bucket import DEFAULT_LIMITS
from marketsync.schemas.storefront import Money, ProductChanged, routing_key, to_dict
from marketsync.settings import Settings, parse_settings

Message = tuple[str, bytes, str]  # routing key, body, message id


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    seller_id: str
    marketplace: str
    currency: str

    @property
    def env_key(self) -> str:
        return self.name.upper().replace("-", "_")


ACCOUNTS = (
    Account("bench-us", "A1BENCHSELLERUS", "ATVPDKIKX0DER", "USD"),
    Account("bench-de", "A1BENCHSELLERDE", "A1PA6795UKMFR9", "EUR"),
)


def amazon_limits(time_scale: float = 1.0) -> dict[str, dict[str, float]]:
    """Amazon's published limits, rates multiplied by ``time_scale`` (as the simulator does)."""
    return {
        operation: {"rate": rate * time_scale, "burst": burst}
        for operation, (rate, burst) in DEFAULT_LIMITS.items()
    }


@dataclass(frozen=True)
class RunConfig:
    document: dict[str, Any]
    environ: dict[str, str] = field(repr=False)

    def settings(self) -> Settings:
        return parse_settings(self.document, self.environ)

    def with_simulator(self, url: str) -> RunConfig:
        document = {
            **self.document,
            "amazon": {"endpoint": url, "token_endpoint": f"{url}/auth/o2/token"},
        }
        return RunConfig(document, self.environ)


def run_config(
    amqp_url: str,
    database_url: str,
    *,
    accounts: Sequence[Account] = ACCOUNTS,
    time_scale: float = 1.0,
    pipeline: Mapping[str, float] | None = None,
    simulator: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Settings for one measurement: Amazon's limits on ``time_scale``, fresh credentials."""
    environ = {"MARKETSYNC_AMQP_URL": amqp_url, "MARKETSYNC_DATABASE_URL": database_url}
    entries = []
    for account in accounts:
        key = account.env_key
        environ[f"{key}_CLIENT_ID"] = f"amzn1.application-oa2-client.{uuid.uuid4().hex}"
        environ[f"{key}_CLIENT_SECRET"] = f"secret-{uuid.uuid4().hex}"
        environ[f"{key}_REFRESH_TOKEN"] = f"Atzr|{uuid.uuid4().hex}"
        entries.append(
            {
                "name": account.name,
                "seller_id": account.seller_id,
                "marketplaces": [account.marketplace],
                "lwa_client_id": f"env:{key}_CLIENT_ID",
                "lwa_client_secret": f"env:{key}_CLIENT_SECRET",
                "refresh_token": f"env:{key}_REFRESH_TOKEN",
                "limits": amazon_limits(time_scale),
            }
        )
    document: dict[str, Any] = {
        "accounts": entries,
        "pipeline": dict(pipeline or {}),
        "simulator": {
            "time_scale": time_scale,
            "rules": {"patch_requires_listing": False},
            **(simulator or {}),
        },
    }
    return RunConfig(document, environ)


def changes(
    count: int,
    skus: int,
    *,
    accounts: Sequence[Account] = ACCOUNTS,
    prefix: str = "SKU",
    seed: int = 5,
) -> list[ProductChanged]:
    """``count`` changes over ``skus`` SKUs (spread over the accounts), versions rising per SKU."""
    rnd = random.Random(seed)
    versions: dict[tuple[str, int], int] = {}
    now = datetime.now(UTC)
    events = []
    for i in range(count):
        account = accounts[i % len(accounts)]
        number = rnd.randrange(skus // len(accounts)) if i >= skus else i // len(accounts)
        key = (account.name, number)
        versions[key] = versions.get(key, 0) + rnd.randint(1, 3)
        quantity = rnd.randint(0, 500) if rnd.random() < 0.8 else None
        price = None
        if quantity is None or rnd.random() < 0.5:
            price = Money(Decimal(rnd.randint(100, 40000)) / 100, account.currency)
        events.append(
            ProductChanged(
                account=account.name,
                marketplace_id=account.marketplace,
                occurred_at=now,
                sku=f"{prefix}-{number:07d}",
                version=versions[key],
                quantity=quantity,
                price=price,
            )
        )
    return events


def message(event: ProductChanged) -> Message:
    """The message a storefront hook sends for ``event`` (the contract's compact JSON)."""
    body = json.dumps(to_dict(event), ensure_ascii=False, separators=(",", ":")).encode()
    return routing_key(event.event_type, event.account), body, event.id


def newest_values(events: Sequence[ProductChanged]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (account, SKU), the newest quantity and price the storefront sent."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: e.version):
        values = newest.setdefault((event.account, event.sku), {"quantity": None, "price": None})
        if event.quantity is not None:
            values["quantity"] = event.quantity
        if event.price is not None:
            values["price"] = f"{event.price.amount:.2f}"
    return newest
