"""A poller crashing at each step of a job's life loses nothing and submits no feed twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from marketsync import demo
from marketsync.bootstrap import gateways
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.projections.replay import verify
from marketsync.workers.poller import Poller
from tests.faults import checks
from tests.faults.scenario import PIPELINE
from tests.integration.pipeline.harness import pipeline

pytestmark = [pytest.mark.integration, pytest.mark.faults]

CRASH_POINTS = ("after_upload", "after_create_feed", "after_report_download", "recording_outcome")


class Crash(BaseException):
    """Ends the poller's thread on the spot, as a killed process would end."""


def crashing_at(point: str, times: int) -> tuple[threading.Event, object]:
    crashed = threading.Event()
    left = [times]

    def hook(name: str) -> None:
        if name == point and left[0] > 0:
            left[0] -= 1
            crashed.set()
            raise Crash(name)

    return crashed, hook


CRASHES = 3


def run_poller(run, hook, until, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """A fresh poller (a restarted process) until it crashes or ``until()``; True on a crash."""
    poller = Poller(run.store, run.settings, gateways(run.settings), crash_point=hook)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until():
            if not poller.tick():
                time.sleep(0.1)
    except Crash:
        return True
    return False


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_each_step_loses_nothing_and_submits_no_feed_twice(
    amqp_url: str, postgres_url: str, point: str, scale: int, tally: Any
) -> None:
    """Kill the poller at one step of every job's life; a new poller finishes the work."""
    burst = demo.make_burst(1200 * scale, 120, seed=11)
    with pipeline(
        amqp_url,
        postgres_url,
        burst,
        workers=("batcher", "projector"),
        pipeline={**PIPELINE, "lease": 1.0},
    ) as run:
        # One part of the burst before each crash: every crash has a job of its own to
        # crash in, however fast the batcher gathers the whole burst into one job.
        parts = CRASHES * scale
        size = -(-len(burst.events) // parts)
        crashes = 0
        for part in range(parts):
            with StorefrontPublisher(amqp_url) as publisher:
                publisher.publish_many(burst.events[part * size : (part + 1) * size])
            crashed, hook = crashing_at(point, times=1)
            if run_poller(run, hook, until=crashed.is_set, timeout=60):
                crashes += 1
        assert crashes == CRASHES * scale, f"the crash point {point} was reached {crashes} time(s)"
        run_poller(
            run, lambda _name: None, until=lambda: demo.progress(run.store).settled, timeout=120
        )
        settled = demo.wait_settled(run.store, len(burst.events), timeout=30)
        assert settled.settled, settled
        checks.amazon_has_newest_values(run, burst)
        checks.no_feed_twice(run)
        checks.no_sku_in_two_unfinished_jobs(run.store)
        verdict = verify(run.store)
        assert verdict.clean, verdict.differences[:10]
        submitted = Counter(e.type for e in checks.all_events(run.store))
        if point == "after_create_feed":
            assert any(
                e.data.get("recovered")
                for e in checks.all_events(run.store)
                if e.type == "FeedSubmitted"
            ), "no feed was found again by getFeeds"
        assert submitted["FeedSubmitted"] == len(run.feeds())
    tally.add(crashes=crashes, restarts=crashes, published=len(burst.events))
