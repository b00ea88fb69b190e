"""Amazon misbehaving while two of every worker share one PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from marketsync import demo
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.projections.replay import verify
from tests.faults import checks
from tests.faults.scenario import PIPELINE
from tests.integration.pipeline.harness import pipeline

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.slow]

FAULT_ROUNDS = [
    {"throttle": {"createFeedDocument": 3, "getFeed": 10, "getFeedDocument": 2}},
    {
        "server_error": {
            "getFeed": {"count": 6, "status": 503},
            "createFeedDocument": {"count": 2, "status": 500},
        }
    },
    {"fatal_feeds": 1},
    {"cancel_feeds": 1},
    {"delay": {"getFeed": 2.5}},  # longer than the client's timeout: a timeout
    {},
]


def test_two_of_every_worker_survive_amazon_faults(
    amqp_url: str, postgres_url: str, scale: int, tally: Any
) -> None:
    """429 storms, 5xx bursts, timeouts, FATAL and CANCELLED feeds and per-item errors, with
    two batchers, two pollers and two projectors: nothing lost, no feed twice, no SKU in two
    unfinished jobs, replay clean."""
    burst = demo.make_burst(3000 * scale, 200, seed=23, unlisted=3, refused=3)
    with pipeline(
        amqp_url,
        postgres_url,
        burst,
        workers=(),
        pipeline={**PIPELINE, "retry_base": 1.0, "retry_max": 600.0},
        amazon_timeout=1.0,
    ) as run:
        for _ in range(2):
            run.start("batcher", "poller", "projector")
        publisher = threading.Thread(target=publish_slowly, args=(amqp_url, burst))
        publisher.start()
        injected = 0
        for faults in FAULT_ROUNDS * scale:
            run.set_faults(**faults)
            injected += fault_count(faults)
            time.sleep(1.5)
        publisher.join(60 * scale)
        run.set_faults()
        rejected_for_good = burst.unlisted | burst.refused
        settled = wait_settled_except(
            run, len(burst.events), rejected_for_good, timeout=180 * scale
        )
        assert settled, (demo.progress(run.store), checks.unfinished_jobs(run.store))
        for workers in run.started:
            workers.stop()  # the refused SKUs are retried forever: freeze before counting
        checks.amazon_has_newest_values(run, burst)
        checks.no_feed_twice(run)
        checks.no_sku_in_two_unfinished_jobs(run.store)
        verdict = verify(run.store)
        assert verdict.clean, verdict.differences[:10]
        assert run.log("ApiCallDeferred"), "the faults left no trace in any job's log"
        statuses = {e.data["status"] for e in run.log("JobEnded")}
        assert {"error", "canceled", "done"} <= statuses
    tally.add(amazon_faults=injected, published=len(burst.events))


def publish_slowly(amqp_url: str, burst: demo.Burst) -> None:
    with StorefrontPublisher(amqp_url) as publisher:
        for start in range(0, len(burst.events), 300):
            publisher.publish_many(burst.events[start : start + 300])
            time.sleep(0.5)


def fault_count(faults: dict[str, Any]) -> int:
    total = 0
    for value in faults.values():
        if isinstance(value, int):
            total += value
        else:
            for spec in value.values():
                total += (
                    spec["count"]
                    if isinstance(spec, dict)
                    else (spec if isinstance(spec, int) else 1)
                )
    return total


def wait_settled_except(
    run: Any, expected: int, refused: set[tuple[str, str]], timeout: float = 180
) -> bool:
    """Settled, with only the SKUs Amazon refuses for good still pending (retried forever)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = demo.progress(run.store)
        pending = {(s.account, s.sku) for s in checks.pending_states(run.store)}
        if (
            progress.recorded >= expected
            and progress.active_jobs == 0
            and progress.views_behind == 0
            and pending <= refused
        ):
            return True
        time.sleep(0.5)
    return False
