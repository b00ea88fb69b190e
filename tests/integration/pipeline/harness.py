"""Runs the real pipeline for a test: simulator over HTTP, workers in threads, pika publisher."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from marketsync import demo
from marketsync.amazon.simulator import SimulatorConfig, SimulatorServer, SimulatorState
from marketsync.bootstrap import WORKERS, Stopper, open_store, run_workers
from marketsync.eventlog.store import EventStore
from marketsync.settings import Settings


@dataclass
class Run:
    settings: Settings
    simulator: SimulatorServer
    store: EventStore
    stopper: Stopper

    def listings(self, seller_id: str) -> dict[str, dict[str, Any]]:
        response = httpx.get(f"{self.simulator.url}/_simulator/listings/{seller_id}")
        response.raise_for_status()
        return {item["sku"]: item for item in response.json()["listings"]}

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.simulator.url}/_simulator/stats").json())

    def feeds(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.simulator.url}/_simulator/feeds").json()["feeds"])


@contextmanager
def pipeline(
    amqp_url: str,
    database_url: str,
    burst: demo.Burst,
    *,
    workers: tuple[str, ...] = WORKERS,
    **overrides: Mapping[str, Any],
) -> Iterator[Run]:
    environ = demo.credentials_env()
    listings = demo.seed_listings(burst)
    draft = demo.run_settings(amqp_url, database_url, None, environ, listings=listings, **overrides)  # type: ignore[arg-type]
    simulator = SimulatorServer(SimulatorState(SimulatorConfig.from_settings(draft))).start()
    settings = demo.run_settings(
        amqp_url, database_url, simulator.url, environ, listings=listings, **overrides
    )  # type: ignore[arg-type]
    stopper = Stopper()
    threads = run_workers(settings, workers, stopper)
    try:
        yield Run(settings, simulator, open_store(settings), stopper)
    finally:
        stopper.stop()
        for thread in threads:
            thread.join(timeout=15)
        simulator.stop()
