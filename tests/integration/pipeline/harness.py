"""Runs the real pipeline for a test: simulator over HTTP, workers in threads, pika publisher.

:func:`pipeline` starts the simulator and the named workers and yields a :class:`Run`. Besides
the simulator's views (listings, stats, feeds) a run can set faults and release held feeds,
publish storefront events, start and stop more workers on their own (``run.start("batcher")``
gives a :class:`Workers` handle), read the log, and wait for a condition with a bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa

from marketsync import demo
from marketsync.amazon.simulator import SimulatorConfig, SimulatorServer, SimulatorState
from marketsync.bootstrap import WORKERS, Stopper, open_store, run_workers
from marketsync.domain.events import Event, job_stream
from marketsync.eventlog import tables
from marketsync.eventlog.store import EventStore, RecordedEvent, read_stream
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.schemas.storefront import StorefrontEvent
from marketsync.settings import Limit, Settings
from marketsync.workers.broker import CONTRACT_TOPOLOGY, connect
from marketsync.workers.poller import GatewayFactory

T = TypeVar("T")
JOIN_TIMEOUT = 15.0


@dataclass
class Workers:
    """Workers started together, with a stopper of their own."""

    names: tuple[str, ...]
    stopper: Stopper
    threads: list[threading.Thread]

    def stop(self) -> None:
        self.stopper.stop()
        for thread in self.threads:
            thread.join(timeout=JOIN_TIMEOUT)
        alive = [t.name for t in self.threads if t.is_alive()]
        assert not alive, f"workers did not stop: {alive}"


@dataclass
class Run:
    settings: Settings
    simulator: SimulatorServer
    store: EventStore
    stopper: Stopper
    started: list[Workers] = field(default_factory=list)

    # --- the simulator ------------------------------------------------------------------------

    def listings(self, seller_id: str) -> dict[str, dict[str, Any]]:
        response = httpx.get(f"{self.simulator.url}/_simulator/listings/{seller_id}")
        response.raise_for_status()
        return {item["sku"]: item for item in response.json()["listings"]}

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.simulator.url}/_simulator/stats").json())

    def feeds(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.simulator.url}/_simulator/feeds").json()["feeds"])

    def faults(self) -> dict[str, Any]:
        response = httpx.get(f"{self.simulator.url}/_simulator/faults")
        response.raise_for_status()
        return dict(response.json())

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the simulator's faults (``throttle=``, ``hold=``, ...); what it now has."""
        response = httpx.put(f"{self.simulator.url}/_simulator/faults", json=faults)
        response.raise_for_status()
        return dict(response.json())

    def release(self, feed_id: str) -> dict[str, Any]:
        response = httpx.post(f"{self.simulator.url}/_simulator/feeds/{feed_id}/release")
        response.raise_for_status()
        return dict(response.json())

    def put_listing(self, seller_id: str, sku: str, **fields: Any) -> dict[str, Any]:
        """Change a listing as if the seller had done it in Seller Central."""
        response = httpx.put(
            f"{self.simulator.url}/_simulator/listings/{seller_id}/{sku}", json=fields
        )
        response.raise_for_status()
        return dict(response.json())

    # --- workers and the storefront ---------------------------------------------------------

    def start(self, *names: str, gateway: GatewayFactory | None = None) -> Workers:
        """Start more workers (stopped at the end of the run, or earlier by the handle)."""
        stopper = Stopper()
        workers = Workers(
            names, stopper, run_workers(self.settings, names, stopper, gateway=gateway)
        )
        self.started.append(workers)
        return workers

    def publish(self, *events: StorefrontEvent) -> None:
        with StorefrontPublisher(self.settings.amqp_url) as publisher:
            publisher.publish_many(events)

    # --- the log -------------------------------------------------------------------------------

    def log(self, *types: str) -> list[RecordedEvent]:
        """Every event of the given types (all when none), in log order."""
        t = tables.events
        query = sa.select(t).order_by(t.c.position)
        if types:
            query = query.where(t.c.type.in_(types))
        with self.store.read() as connection:
            return [RecordedEvent(**row) for row in connection.execute(query).mappings()]

    def events(self, *types: str) -> list[Event]:
        return [recorded.event for recorded in self.log(*types)]

    def job_events(self, job_id: int) -> list[Event]:
        with self.store.read() as connection:
            return [r.event for r in read_stream(connection, job_stream(job_id))]

    def recorded(self, event_ids: Iterable[str]) -> bool:
        """Are all these storefront event ids in the log?"""
        wanted = list(event_ids)
        t = tables.events
        with self.store.read() as connection:
            found = connection.execute(
                sa.select(sa.func.count()).where(t.c.event_id.in_(wanted))
            ).scalar_one()
        return int(found) == len(set(wanted))

    def settled(self) -> bool:
        """No unfinished job, nothing sendable, the views caught up."""
        return demo.progress(self.store).settled

    def views_caught_up(self) -> bool:
        return demo.progress(self.store).views_behind == 0

    def wait_settled(self, *events: StorefrontEvent, timeout: float = 30.0) -> None:
        """Wait until ``events`` are recorded and the pipeline has nothing left to do."""
        ids = [e.id for e in events]
        wait_until(lambda: self.recorded(ids) and self.settled(), timeout, "pipeline settled")
        time.sleep(0.2)  # one more look: a job may have formed in between
        wait_until(self.settled, timeout, "pipeline settled")


def wait_until(
    condition: Callable[[], T | None], timeout: float, what: str, every: float = 0.1
) -> T:
    """The first truthy value of ``condition()``; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def with_account_limits(
    settings: Settings, limits: Mapping[str, Mapping[str, Mapping[str, float]] | None]
) -> Settings:
    """``settings`` with each named account's limits replaced (None or {}: Amazon's defaults)."""
    accounts = []
    for account in settings.accounts:
        if account.name in limits:
            table = limits[account.name] or {}
            own = {op: Limit(float(v["rate"]), float(v["burst"])) for op, v in table.items()}
            account = replace(account, limits=MappingProxyType(own))
        accounts.append(account)
    return replace(settings, accounts=tuple(accounts))


@contextmanager
def pipeline(
    amqp_url: str,
    database_url: str,
    burst: demo.Burst | None = None,
    *,
    workers: tuple[str, ...] = WORKERS,
    listings: list[dict[str, Any]] | None = None,
    account_limits: Mapping[str, Mapping[str, Mapping[str, float]] | None] | None = None,
    gateway: GatewayFactory | None = None,
    **overrides: Any,
) -> Iterator[Run]:
    """The simulator and ``workers`` for one test.

    ``listings`` seeds the simulator (default: every SKU of ``burst``); ``account_limits``
    replaces the named accounts' limits after :func:`demo.run_settings` (which gives every
    account the same ones); other keywords go to :func:`demo.run_settings`.
    """
    environ = demo.credentials_env()
    if listings is None:
        listings = demo.seed_listings(burst) if burst is not None else []
    draft = demo.run_settings(amqp_url, database_url, None, environ, listings=listings, **overrides)
    simulator = SimulatorServer(SimulatorState(SimulatorConfig.from_settings(draft))).start()
    settings = demo.run_settings(
        amqp_url, database_url, simulator.url, environ, listings=listings, **overrides
    )
    if account_limits:
        settings = with_account_limits(settings, account_limits)
    with connect(amqp_url) as connection:  # publishing may start before the batcher is up
        CONTRACT_TOPOLOGY.declare(connection)
    stopper = Stopper()
    threads = run_workers(settings, workers, stopper, gateway=gateway)
    run = Run(settings, simulator, open_store(settings), stopper)
    try:
        yield run
    finally:
        stopper.stop()
        for handle in run.started:
            handle.stopper.stop()
        for thread in [*threads, *(t for h in run.started for t in h.threads)]:
            thread.join(timeout=JOIN_TIMEOUT)
        simulator.stop()
        run.store.engine.dispose()
