"""Workers as real processes, killed with SIGKILL mid-run and restarted: nothing is lost,
no feed is submitted twice, no SKU is in two feeds at once (invariants 1, 3, 6)."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pika
import pytest
import sqlalchemy as sa

from marketsync import demo
from marketsync.amazon.simulator import Faults, parse_faults
from marketsync.bootstrap import WORKERS
from marketsync.domain.events import FeedSubmitted, JobEnded, JobReserved
from marketsync.eventlog import tables
from marketsync.eventlog.store import EventStore, RecordedEvent, read_events
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.projections import views
from marketsync.projections.replay import verify
from marketsync.schemas.storefront import DEAD_LETTER_QUEUE
from marketsync.workers.broker import CONTRACT_TOPOLOGY
from tests.integration.pipeline.processes import ProcessRun, process_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 20261126
KILLS = 4  # each of batcher and poller; the quorum queue dead-letters after 5 redeliveries
SETTLE_TIMEOUT = 90.0


BURST = demo.make_burst(3000, 150, seed=SEED)  # 3,000 changes over 300 SKUs of two accounts


@pytest.fixture
def run(amqp_url: str, database_url: str, tmp_path: Path) -> Iterator[ProcessRun]:
    with process_pipeline(amqp_url, database_url, BURST, tmp_path) as running:
        yield running


@pytest.fixture
def sqlite_run(amqp_url: str, sqlite_url: str, tmp_path: Path) -> Iterator[ProcessRun]:
    with process_pipeline(amqp_url, sqlite_url, BURST, tmp_path) as running:
        yield running


# --- driving the processes -----------------------------------------------------------------


def expire_leases(store: EventStore, pid: int) -> None:
    """The dead poller's job leases run out (as they would after 60 s, without the wait)."""
    schedule = tables.job_schedule
    with store.write() as tx:
        tx.connection.execute(
            sa.update(schedule).where(schedule.c.owner.like(f"%:{pid}:%")).values(lease_until=0.0)
        )


def kill_and_restart(run: ProcessRun, name: str) -> None:
    pid = run.procs.workers[name].pid
    assert run.procs.kill(name) == -signal.SIGKILL, run.procs.stderr()
    if name == "poller":
        expire_leases(run.store, pid)
    run.procs.restart(name)


def job_mid_submission(store: EventStore) -> bool:
    """A job whose document is uploaded but whose feed id is not recorded yet."""
    jobs = tables.job_state
    with store.read() as connection:
        found = connection.execute(
            sa.select(jobs.c.job_id).where(
                jobs.c.status == "processing",
                jobs.c.document_id.is_not(None),
                jobs.c.feed_id.is_(None),
            )
        ).first()
    return found is not None


def kill_poller_inside_create_feed(run: ProcessRun, timeout: float = 20.0) -> bool:
    """SIGKILL the poller while its createFeed call is in flight (the simulator holds each call
    0.4 s), so that Amazon has the feed and the log does not. True if it happened."""
    state = run.simulator.state
    state.set_faults(create_feed_delay(delay=0.4))
    try:
        deadline = time.monotonic() + timeout
        while not job_mid_submission(run.store):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        feeds_before = len(run.feeds())
        pid = run.procs.workers["poller"].pid
        assert run.procs.kill("poller") == -signal.SIGKILL
    finally:
        state.set_faults(create_feed_delay(delay=0.0))
    expire_leases(run.store, pid)
    deadline = time.monotonic() + 3.0  # the in-flight call completes at the simulator
    while len(run.feeds()) == feeds_before and time.monotonic() < deadline:
        time.sleep(0.05)
    orphaned = len(run.feeds()) > feeds_before
    run.procs.restart("poller")
    return orphaned


def create_feed_delay(delay: float) -> Faults:
    return parse_faults({"delay": {"createFeed": delay}} if delay else {})


# --- what the log and the simulator say --------------------------------------------------


def all_events(store: EventStore) -> list[RecordedEvent]:
    events: list[RecordedEvent] = []
    with store.read() as connection:
        while batch := read_events(connection, events[-1].position if events else 0, 10_000):
            events.extend(batch)
    return events


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_no_feed_submitted_twice(
    events: list[RecordedEvent], feeds: list[dict[str, Any]]
) -> None:
    submitted = [(e.position, e.event) for e in events if e.type == "FeedSubmitted"]
    per_job = Counter(event.job_id for _, event in submitted if isinstance(event, FeedSubmitted))
    twice = {job: n for job, n in per_job.items() if n > 1}
    assert not twice, f"jobs with more than one FeedSubmitted: {twice}"
    owner = {e.feed_id: e.job_id for _, e in submitted if isinstance(e, FeedSubmitted)}
    assert len(owner) == len(submitted), "one feed id recorded for two jobs"
    orphans = [f["feedId"] for f in feeds if f["feedId"] not in owner]
    assert not orphans, f"feeds at Amazon that no job owns (submitted twice?): {orphans}"
    items = {
        e.event.job_id: {i.sku for i in e.event.items}
        for e in events
        if isinstance(e.event, JobReserved)
    }
    for feed in feeds:
        assert set(feed["skus"]) == items[owner[feed["feedId"]]], feed["feedId"]


def assert_one_unfinished_job_per_sku(events: list[RecordedEvent]) -> None:
    """By log position (the commit order): a SKU's next job is reserved after its last ended."""
    reserved: dict[int, tuple[int, JobReserved]] = {}
    ended: dict[int, int] = {}
    for e in events:
        event = e.event
        if isinstance(event, JobReserved):
            reserved[event.job_id] = (e.position, event)
        elif isinstance(event, JobEnded):
            ended[event.job_id] = e.position
    spans: dict[tuple[str, str, str], list[tuple[int, int, int]]] = defaultdict(list)
    for job_id, (start, job) in reserved.items():
        for item in job.items:
            spans[(job.account, job.marketplace, item.sku)].append((start, ended[job_id], job_id))
    overlaps = [
        (key, a[2], b[2])
        for key, jobs in spans.items()
        for a, b in pairwise(sorted(jobs))
        if b[0] < a[1]
    ]
    assert not overlaps, f"SKUs in two unfinished jobs at once: {overlaps[:5]}"


def assert_no_sku_in_two_feeds_at_once(run: ProcessRun, feeds: list[dict[str, Any]]) -> None:
    """At the simulator: a feed with a SKU is created only after the previous one is done."""
    ended = {
        f["feedId"]: iso(
            run.simulator.state.feed_json(f["sellerId"], f["feedId"])["processingEndTime"]
        )
        for f in feeds
    }
    by_sku: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for feed in feeds:
        for sku in feed["skus"]:
            by_sku[(feed["sellerId"], feed["marketplaceId"], sku)].append(feed)
    concurrent = []
    for key, with_sku in by_sku.items():
        ordered = sorted(with_sku, key=lambda f: iso(f["createdTime"]))
        for a, b in pairwise(ordered):
            if iso(b["createdTime"]) < ended[a["feedId"]]:
                concurrent.append((key, a["feedId"], b["feedId"]))
    assert not concurrent, f"SKUs in two feeds at once: {concurrent[:5]}"


def assert_amazon_has_newest_values(run: ProcessRun, burst: demo.Burst) -> None:
    listings = {name: run.listings(seller) for name, seller, *_ in demo.ACCOUNTS}
    wrong = [
        (account, sku, field, want[field], listings[account].get(sku, {}).get(field))
        for (account, sku), want in burst.final.items()
        for field in ("quantity", "price")
        if want[field] is not None and listings[account].get(sku, {}).get(field) != want[field]
    ]
    assert not wrong, f"{len(wrong)} SKU fields differ from the storefront, e.g. {wrong[:5]}"


def queue_depth(amqp_url: str, queue: str) -> int:
    with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)


# --- the tests -------------------------------------------------------------------------------


def test_sigkill_of_batcher_and_poller_mid_run_loses_nothing(
    run: ProcessRun, amqp_url: str
) -> None:
    """Batcher and poller SIGKILLed mid-run and restarted: nothing lost or sent twice."""
    # Amazon ends at the newest values; each change recorded exactly once; no feed submitted
    # twice; no SKU in two feeds at once; pending empty; every job done; replay --verify clean.
    rnd = random.Random(SEED)
    for name in WORKERS:
        run.procs.start(name)
    for name in WORKERS:
        run.procs.wait_ready(name)
    size = -(-len(BURST.events) // (2 * KILLS))
    chunks = [BURST.events[i : i + size] for i in range(0, len(BURST.events), size)]
    orphaned = False
    with StorefrontPublisher(amqp_url) as publisher:
        for i, chunk in enumerate(chunks):  # kills alternate: batcher, poller, batcher, ...
            publisher.publish_many(chunk)
            time.sleep(rnd.uniform(0.2, 1.0))
            if i % 2 == 0:
                kill_and_restart(run, "batcher")
            elif i == 3:
                orphaned = kill_poller_inside_create_feed(run)
            else:
                kill_and_restart(run, "poller")
    state = demo.wait_settled(run.store, len(BURST.events), timeout=SETTLE_TIMEOUT)
    assert state.settled, f"{state}\n{run.procs.stderr()}"
    for name in WORKERS:
        assert run.procs.workers[name].running, run.procs.stderr()

    assert_amazon_has_newest_values(run, BURST)
    with run.store.read() as connection:
        assert views.pending(connection) == []
        jobs = views.list_jobs(connection, views.JobFilter(limit=10_000))
    assert jobs and all(j.status == "done" for j in jobs), Counter(j.status for j in jobs)
    verdict = verify(run.store)
    assert verdict.clean, verdict.differences[:10]

    events = all_events(run.store)
    recorded = [e.event_id for e in events if e.type == "ChangeRecorded"]
    assert sorted(recorded) == sorted(e.id for e in BURST.events)
    feeds = run.feeds()
    assert_no_feed_submitted_twice(events, feeds)
    assert_one_unfinished_job_per_sku(events)
    assert_no_sku_in_two_feeds_at_once(run, feeds)
    if orphaned:  # Amazon got the in-flight createFeed: the restarted poller adopted it
        assert any(isinstance(e.event, FeedSubmitted) and e.event.recovered for e in events)
    assert run.stats()["throttled_total"] == 0
    assert queue_depth(amqp_url, CONTRACT_TOPOLOGY.batcher_queue.name) == 0
    assert queue_depth(amqp_url, DEAD_LETTER_QUEUE) == 0, "valid changes were dead-lettered"


@pytest.mark.parametrize("name", WORKERS)
def test_sigterm_stops_a_worker_cleanly(sqlite_run: ProcessRun, name: str) -> None:
    """SIGTERM: each worker stops within a few seconds with exit code 0."""
    run = sqlite_run
    run.procs.start(name)
    run.procs.wait_ready(name)
    started = time.monotonic()
    code = run.procs.stop(name, timeout=5.0)
    assert code == 0, run.procs.stderr()
    assert time.monotonic() - started < 5.0
    assert "worker_crashed" not in run.procs.workers[name].stderr()
