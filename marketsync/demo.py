"""``marketsync demo``: the whole pipeline against the simulator, in one process.

It starts the SP-API simulator and every worker, publishes a realistic burst from two
storefront accounts through RabbitMQ (repeated changes to the same SKUs, out of order and
duplicated deliveries, a few SKUs Amazon has no listing for and a few prices Amazon
refuses), waits until every job has finished, prints the job table and the pending queue,
audits the log with a full replay, and exits 0.

The pieces (settings for a run, the burst, waiting until the pipeline is settled) are also
what the end-to-end tests use.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from marketsync.domain.jobs import FINAL
from marketsync.eventlog import tables
from marketsync.eventlog.store import EventStore, head
from marketsync.projections.views import views_position
from marketsync.schemas.storefront import Money, ProductChanged
from marketsync.settings import Settings, parse_settings

ACCOUNTS = (
    ("demo-us", "A1DEMOSELLERUS", "ATVPDKIKX0DER", "USD"),
    ("demo-de", "A1DEMOSELLERDE", "A1PA6795UKMFR9", "EUR"),
)
MAX_PRICE = 500  # the simulator refuses prices above this (Amazon's price ceiling, scaled)


def credentials_env(accounts: tuple[tuple[str, str, str, str], ...] = ACCOUNTS) -> dict[str, str]:
    env = {}
    for name, *_ in accounts:
        key = name.upper().replace("-", "_")
        env[f"{key}_CLIENT_ID"] = f"amzn1.application-oa2-client.{uuid.uuid4().hex}"
        env[f"{key}_CLIENT_SECRET"] = f"secret-{uuid.uuid4().hex}"
        env[f"{key}_REFRESH_TOKEN"] = f"Atzr|{uuid.uuid4().hex}"
    return env


def run_settings(
    amqp_url: str,
    database_url: str,
    simulator_url: str | None,
    environ: Mapping[str, str],
    *,
    accounts: tuple[tuple[str, str, str, str], ...] = ACCOUNTS,
    listings: list[dict[str, Any]] | None = None,
    simulator: Mapping[str, Any] | None = None,
    pipeline: Mapping[str, Any] | None = None,
    limits: Mapping[str, Any] | None = None,
    amazon_timeout: float | None = None,
) -> Settings:
    """Settings for a demo or test run: fast buckets, short windows, local simulator."""
    document: dict[str, Any] = {
        "accounts": [
            {
                "name": name,
                "seller_id": seller,
                "marketplaces": [marketplace],
                "lwa_client_id": f"env:{name.upper().replace('-', '_')}_CLIENT_ID",
                "lwa_client_secret": f"env:{name.upper().replace('-', '_')}_CLIENT_SECRET",
                "refresh_token": f"env:{name.upper().replace('-', '_')}_REFRESH_TOKEN",
                "limits": dict(
                    limits
                    or {
                        "createFeed": {"rate": 1.0, "burst": 15},
                        "JSON_LISTINGS_FEED": {"rate": 1.0, "burst": 5},
                        "getFeedDocument": {"rate": 5.0, "burst": 10},
                        "getFeeds": {"rate": 1.0, "burst": 10},
                    }
                ),
            }
            for name, seller, marketplace, _currency in accounts
        ],
        "pipeline": dict(
            pipeline
            or {"gathering_window": 0.5, "max_age": 2.0, "poll_interval": 0.3, "retry_base": 3600.0}
        ),
        "simulator": {
            "in_queue_seconds": 0.3,
            "in_progress_seconds": 0.3,
            "rules": {"max_price": MAX_PRICE},
            "limits": {
                "createFeed": {"rate": 1.0, "burst": 15},
                "JSON_LISTINGS_FEED": {"rate": 1.0, "burst": 5},
                "getFeedDocument": {"rate": 5.0, "burst": 10},
                "getFeeds": {"rate": 1.0, "burst": 10},
            },
            "listings": listings or [],
            **(simulator or {}),
        },
    }
    if simulator_url:
        document["amazon"] = {
            "endpoint": simulator_url,
            "token_endpoint": f"{simulator_url}/auth/o2/token",
        }
        if amazon_timeout is not None:
            document["amazon"]["timeout"] = amazon_timeout
    env = {**environ, "MARKETSYNC_AMQP_URL": amqp_url, "MARKETSYNC_DATABASE_URL": database_url}
    return parse_settings(document, env)


@dataclass
class Burst:
    """What was published, and what each SKU should end up as on Amazon."""

    events: list[ProductChanged] = field(default_factory=list)
    final: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    unlisted: set[tuple[str, str]] = field(default_factory=set)  # (account, sku) Amazon lacks
    refused: set[tuple[str, str]] = field(default_factory=set)  # final price above MAX_PRICE


def make_burst(
    changes: int,
    skus: int,
    *,
    accounts: tuple[tuple[str, str, str, str], ...] = ACCOUNTS,
    unlisted: int = 0,
    refused: int = 0,
    seed: int = 7,
) -> Burst:
    """``changes`` changes over ``skus`` SKUs per account; versions rise per SKU."""
    rnd = random.Random(seed)
    burst = Burst()
    version: dict[tuple[str, str], int] = {}
    for i in range(changes):
        name, _seller, marketplace, currency = accounts[i % len(accounts)]
        sku = f"SKU-{rnd.randrange(skus):05d}"
        key = (name, sku)
        version[key] = version.get(key, 0) + rnd.randint(1, 3)
        quantity = rnd.randint(0, 200) if rnd.random() < 0.8 else None
        price = None
        if quantity is None or rnd.random() < 0.5:
            price = Decimal(rnd.randint(100, 40000)) / 100
        burst.events.append(
            _changed(name, marketplace, sku, version[key], quantity, price, currency)
        )
        state = burst.final.setdefault(key, {"quantity": None, "price": None})
        if quantity is not None:
            state["quantity"] = quantity
        if price is not None:
            state["price"] = f"{price:.2f}"
    keys = sorted(burst.final)
    rnd.shuffle(keys)
    burst.unlisted = set(keys[:unlisted])
    for key in keys[unlisted : unlisted + refused]:
        name, sku = key
        marketplace, currency = next((m, c) for n, _s, m, c in accounts if n == name)
        version[key] += 1
        refused_price = Decimal(MAX_PRICE * 3)
        burst.events.append(
            _changed(name, marketplace, sku, version[key], None, refused_price, currency)
        )
        burst.refused.add(key)
    return burst


def _changed(
    account: str,
    marketplace: str,
    sku: str,
    version: int,
    quantity: int | None,
    price: Decimal | None,
    currency: str,
) -> ProductChanged:
    return ProductChanged(
        id=str(uuid.uuid4()),
        account=account,
        marketplace_id=marketplace,
        occurred_at=datetime.now(UTC),
        schema_version=1,
        sku=sku,
        version=version,
        quantity=quantity,
        price=Money(amount=price, currency=currency) if price is not None else None,
    )


def seed_listings(
    burst: Burst, accounts: tuple[tuple[str, str, str, str], ...] = ACCOUNTS
) -> list[dict[str, Any]]:
    """Listings as they stand in Seller Central before the run (all but the unlisted ones)."""
    sellers = {
        name: (seller, marketplace, currency) for name, seller, marketplace, currency in accounts
    }
    return [
        {
            "seller_id": sellers[name][0],
            "marketplace_id": sellers[name][1],
            "sku": sku,
            "quantity": 0,
            "price": "1.00",
            "currency": sellers[name][2],
        }
        for (name, sku) in sorted(burst.final)
        if (name, sku) not in burst.unlisted
    ]


@dataclass(frozen=True)
class Progress:
    recorded: int
    active_jobs: int
    sendable: int
    views_behind: int

    @property
    def settled(self) -> bool:
        return self.active_jobs == 0 and self.sendable == 0 and self.views_behind == 0


def progress(store: EventStore) -> Progress:
    now = time.time()
    with store.read() as connection:
        jobs, skus, events = tables.job_state, tables.sku_state, tables.events
        recorded = connection.execute(
            sa.select(sa.func.count()).where(events.c.type == "ChangeRecorded")
        ).scalar_one()
        active = connection.execute(
            sa.select(sa.func.count()).where(jobs.c.status.not_in([s.value for s in FINAL]))
        ).scalar_one()
        sendable = connection.execute(
            sa.select(sa.func.count()).where(
                skus.c.pending_since.is_not(None), skus.c.job_id.is_(None), skus.c.not_before <= now
            )
        ).scalar_one()
        behind = head(connection) - views_position(connection)
    return Progress(recorded, active, sendable, behind)


def wait_settled(
    store: EventStore,
    expected: int,
    timeout: float,
    quiet: float = 1.0,
    watch: Callable[[], None] = lambda: None,
) -> Progress:
    """Wait until ``expected`` changes are recorded and nothing is left to do; ``watch`` is
    called on every look (a test's check that its workers are still alive)."""
    deadline = time.monotonic() + timeout
    settled_since: float | None = None
    while True:
        watch()
        state = progress(store)
        now = time.monotonic()
        if state.recorded >= expected and state.settled:
            settled_since = settled_since or now
            if now - settled_since >= quiet:
                return state
        else:
            settled_since = None
        if now > deadline:
            return state
        time.sleep(0.2)


def scratch_database() -> str:
    directory = Path(tempfile.mkdtemp(prefix="marketsync-demo-"))
    return f"sqlite:///{directory / 'marketsync.db'}"


def say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
