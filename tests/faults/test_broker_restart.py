"""RabbitMQ stopped and started mid-run while a storefront keeps publishing with confirms:
every confirmed change reaches Amazon and the workers reconnect without a person
(invariant 1: a change published with a confirm is never lost)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from marketsync import demo
from marketsync.bootstrap import WORKERS
from marketsync.producers.publisher import PublishError, StorefrontPublisher
from marketsync.schemas.storefront import DEAD_LETTER_QUEUE, ProductChanged
from marketsync.workers.broker import CONTRACT_TOPOLOGY
from tests.faults import checks, outages
from tests.integration.pipeline.harness import wait_until
from tests.integration.pipeline.processes import ProcessRun

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.slow]

SEED = 20261205
CHANGES, SKUS = 2000, 100
PACE = 0.008  # seconds between changes: publishing spans the outage
OUTAGE = 4.0  # seconds the broker's app is down, besides stopping and starting it
RETRY_ATTEMPTS = 40  # the publisher's reconnects per change (backoff up to 5 s each)
REPUBLISH_FOR = 90.0  # a storefront retries a change it has no confirm for this long
QUEUE = CONTRACT_TOPOLOGY.batcher_queue.name


@dataclass
class Storefront:
    """Publishes changes one at a time and keeps those the broker confirmed."""

    amqp_url: str
    events: list[ProductChanged]
    confirmed: list[ProductChanged] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    given_up: list[ProductChanged] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="storefront", daemon=True)
        self.thread.start()

    def run(self) -> None:
        with StorefrontPublisher(self.amqp_url, retry_attempts=RETRY_ATTEMPTS) as publisher:
            for event in self.events:
                if not self.publish(publisher, event):
                    self.given_up.append(event)
                time.sleep(PACE)

    def publish(self, publisher: StorefrontPublisher, event: ProductChanged) -> bool:
        deadline = time.monotonic() + REPUBLISH_FOR
        while True:
            try:
                publisher.publish(event)
            except PublishError as e:  # not confirmed: the storefront still owns it
                self.failures.append(str(e))
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.5)
                continue
            self.confirmed.append(event)
            return True

    def join(self, timeout: float) -> None:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"still publishing after {timeout:.0f}s"


@pytest.fixture
def burst(scale: int) -> demo.Burst:
    return demo.make_burst(CHANGES * scale, SKUS, seed=SEED)


def connections(run: ProcessRun) -> int:
    """How often the batcher (re)connected to the broker."""
    return run.procs.workers["batcher"].stderr().count("broker_connected")


def test_broker_restart_loses_no_confirmed_change(
    run: ProcessRun, burst: demo.Burst, amqp_url: str, scale: int, tally: Any
) -> None:
    """RabbitMQ stop_app/start_app mid-publish: every confirmed change synced, workers reconnect."""
    for name in WORKERS:
        run.procs.start(name)
    for name in WORKERS:
        run.procs.wait_ready(name)
    wait_until(lambda: connections(run) >= 1, 20, "the batcher's first connection")
    storefront = Storefront(amqp_url, burst.events)
    storefront.start()
    outages_survived, down = 0, []
    for k in range(scale):
        share = (k + 1) * len(burst.events) // (scale + 2)
        wait_until(lambda n=share: len(storefront.confirmed) >= n, 120, f"{share} confirms")
        before = connections(run)
        down.append(outages.broker_outage(amqp_url, QUEUE, OUTAGE))
        outages_survived += 1
        wait_until(lambda n=before: connections(run) > n, 60, "the batcher to reconnect")
    storefront.join(timeout=REPUBLISH_FOR + 60 * scale)
    assert not storefront.given_up, f"{len(storefront.given_up)} changes never confirmed"

    confirmed = checks.burst_of(storefront.confirmed, like=burst)
    checks.settle_processes(run, len(storefront.confirmed), timeout=120 * scale)
    for name in WORKERS:  # the same processes all along, and they still stop cleanly
        assert run.procs.workers[name].starts == 1
        assert run.procs.stop(name) == 0, run.procs.stderr()

    checks.end_of_run(run, confirmed)
    recorded = {e.event_id for e in checks.all_events(run.store) if e.type == "ChangeRecorded"}
    assert recorded == {e.id for e in storefront.confirmed}
    assert checks.queue_depth(amqp_url, QUEUE) == 0
    assert checks.queue_depth(amqp_url, DEAD_LETTER_QUEUE) == 0, "valid changes dead-lettered"
    print(
        f"\nbroker down {', '.join(f'{s:.1f}s' for s in down)}; "
        f"{len(storefront.failures)} unconfirmed publishes retried",
        end=" ",
    )
    tally.add(restarts=outages_survived, published=len(storefront.confirmed))
