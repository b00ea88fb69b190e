"""Batcher, poller and projector processes SIGKILLed at random moments while changes keep
arriving: nothing is lost, no feed is submitted twice, no SKU is in two unfinished jobs, and
the log replays to exactly what the live system holds (invariants 1, 3, 6, 7)."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from typing import Any

import pytest

from marketsync import demo
from marketsync.bootstrap import WORKERS
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.schemas.storefront import DEAD_LETTER_QUEUE
from marketsync.workers.broker import CONTRACT_TOPOLOGY
from tests.faults import checks
from tests.integration.pipeline.processes import ProcessRun

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.slow]

SEED = 20261204
CHANGES, SKUS = 3000, 150  # 3,000 changes over 300 SKUs of two accounts
KILLS = {"batcher": 10, "poller": 11, "projector": 10}
BATCHER_UPTIME = 2.0  # seconds between batcher kills: a message meets the delivery limit (20)
# only if the batcher dies 20 times in a row before it acks it
SETTLE_TIMEOUT = 180.0


@pytest.fixture
def burst(scale: int) -> demo.Burst:
    return demo.make_burst(CHANGES * scale, SKUS * scale, seed=SEED)


def kill_plan(rnd: random.Random, scale: int) -> list[str]:
    plan = [name for name, kills in KILLS.items() for _ in range(kills * scale)]
    rnd.shuffle(plan)
    return plan


def kill_and_restart(run: ProcessRun, name: str, started_at: dict[str, float]) -> None:
    """SIGKILL ``name`` (it must still be running: anything else is a crash) and start it
    again at once."""
    worker = run.procs.workers[name]
    assert worker.running, f"{name} died on its own:\n{run.procs.stderr()}"
    if name == "batcher":
        time.sleep(max(0.0, started_at[name] + BATCHER_UPTIME - time.monotonic()))
    assert run.procs.kill(name) == -signal.SIGKILL
    run.procs.restart(name)
    started_at[name] = time.monotonic()
    run.procs.wait_ready(name)


def test_random_sigkills_of_every_worker_lose_nothing(
    run: ProcessRun, burst: demo.Burst, amqp_url: str, scale: int, tally: Any
) -> None:
    """30+ SIGKILLs of batcher, poller and projector mid-run: all synced, nothing sent twice."""
    rnd = random.Random(SEED)
    plan = kill_plan(rnd, scale)
    started_at = {}
    for name in WORKERS:
        run.procs.start(name)
        started_at[name] = time.monotonic()
    for name in WORKERS:
        run.procs.wait_ready(name)
    size = -(-len(burst.events) // len(plan))
    chunks = [burst.events[i : i + size] for i in range(0, len(burst.events), size)]
    began = time.monotonic()
    with StorefrontPublisher(amqp_url) as publisher:
        for i, name in enumerate(plan):
            if i < len(chunks):
                publisher.publish_many(chunks[i])
            time.sleep(rnd.uniform(0.05, 1.2))  # mid-batch, mid-job, mid-projection, idle
            kill_and_restart(run, name, started_at)
    killed_in = time.monotonic() - began

    checks.settle_processes(run, len(burst.events), timeout=SETTLE_TIMEOUT * scale)
    for name in WORKERS:  # a clean stop: none crashed or hangs after all those kills
        assert run.procs.stop(name) == 0, run.procs.stderr()

    checks.end_of_run(run, burst)
    recorded = Counter(
        e.event_id for e in checks.all_events(run.store) if e.type == "ChangeRecorded"
    )
    assert set(recorded) == {e.id for e in burst.events} and max(recorded.values()) == 1
    assert checks.queue_depth(amqp_url, CONTRACT_TOPOLOGY.batcher_queue.name) == 0
    assert checks.queue_depth(amqp_url, DEAD_LETTER_QUEUE) == 0, "valid changes dead-lettered"
    kills = Counter(plan)
    assert all(run.procs.workers[n].exit_codes.count(-signal.SIGKILL) == kills[n] for n in kills)
    submitted = [e for e in checks.all_events(run.store) if e.type == "FeedSubmitted"]
    recovered = sum(1 for e in submitted if e.data.get("recovered"))
    print(
        f"\n{len(plan)} kills {dict(kills)} in {killed_in:.0f}s; {len(submitted)} feeds, "
        f"{recovered} found again after a poller died inside createFeed",
        end=" ",
    )
    tally.add(kills=len(plan), restarts=len(plan), published=len(burst.events))
