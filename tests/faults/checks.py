"""The end-of-run checks every fault scenario makes (issue #4).

* Amazon (the simulator) has the newest storefront value of every SKU;
* no job submitted more than one feed, and every feed Amazon holds belongs to one job;
* no SKU was ever in two unfinished jobs at once, checked from the log alone;
* :func:`end_of_run` makes all of these together with the pending queue, the job table and a
  full replay (``marketsync replay --verify``), once in one process and once split over
  three, as every scenario ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import closing
from typing import Any

import pika
import sqlalchemy as sa

from marketsync import demo
from marketsync.domain.sku import SkuState
from marketsync.eventlog import tables
from marketsync.eventlog.states import sku_from_row
from marketsync.eventlog.store import EventStore, RecordedEvent
from marketsync.projections.replay import verify
from marketsync.schemas.storefront import ProductChanged


def all_events(store: EventStore) -> list[RecordedEvent]:
    with store.read() as connection:
        rows = connection.execute(sa.select(tables.events).order_by(tables.events.c.position))
        return [RecordedEvent(**row) for row in rows.mappings()]


def amazon_has_newest_values(run: Any, burst: demo.Burst) -> None:
    sellers = {name: seller for name, seller, *_ in demo.ACCOUNTS}
    listings = {name: run.listings(seller) for name, seller in sellers.items()}
    wrong = []
    for (account, sku), want in burst.final.items():
        if (account, sku) in burst.unlisted or (account, sku) in burst.refused:
            continue
        have = listings[account].get(sku, {})
        for field in ("quantity", "price"):
            if want[field] is not None and have.get(field) != want[field]:
                wrong.append((account, sku, field, want[field], have.get(field)))
    assert not wrong, f"{len(wrong)} SKU values differ from the storefront, e.g. {wrong[:5]}"


def no_feed_twice(run: Any) -> None:
    """Each job submitted at most one feed; Amazon holds no feed that no job owns."""
    events = all_events(run.store)
    per_job = Counter(e.data["job_id"] for e in events if e.type == "FeedSubmitted")
    twice = {job: n for job, n in per_job.items() if n > 1}
    assert not twice, f"jobs that recorded more than one feed: {twice}"
    owned = {e.data["feed_id"] for e in events if e.type == "FeedSubmitted"}
    on_amazon = {str(f["feedId"]) for f in run.feeds()}
    assert on_amazon == owned, (
        f"feeds on Amazon that no job owns: {sorted(on_amazon - owned)}; "
        f"jobs' feeds Amazon lacks: {sorted(owned - on_amazon)}"
    )


def no_sku_in_two_unfinished_jobs(store: EventStore) -> None:
    """Replays reservations and job ends: a SKU is never reserved while another job holds it
    (unless an operator abandoned that job)."""
    holder: dict[tuple[str, str, str], int] = {}
    jobs: dict[int, tuple[str, str]] = {}
    for event in all_events(store):
        data = event.data
        if event.type == "JobReserved":
            jobs[data["job_id"]] = (data["account"], data["marketplace"])
            for item in data["items"]:
                key = (data["account"], data["marketplace"], item["sku"])
                assert key not in holder, (
                    f"{key} reserved by job {data['job_id']} while job {holder[key]} holds it"
                )
                holder[key] = data["job_id"]
        elif event.type in ("JobEnded", "JobAbandoned"):
            for key in [k for k, job in holder.items() if job == data["job_id"]]:
                del holder[key]


def pending_states(store: EventStore) -> list[SkuState]:
    """Worker state of every SKU that is pending or in a job."""
    t = tables.sku_state
    query = sa.select(t).where(sa.or_(t.c.pending_since.is_not(None), t.c.job_id.is_not(None)))
    with store.read() as connection:
        return [sku_from_row(row) for row in connection.execute(query).mappings()]


def unfinished_jobs(store: EventStore) -> list[str]:
    """One line per unfinished job with its last events, for assertion messages."""
    t = tables.job_state
    lines = []
    with store.read() as connection:
        rows = connection.execute(
            sa.select(t).where(t.c.status.not_in(["done", "error", "canceled"]))
        ).mappings()
        for row in rows:
            last = connection.execute(
                sa.select(tables.events.c.type, tables.events.c.data)
                .where(tables.events.c.stream == f"job:{row['job_id']}")
                .order_by(tables.events.c.version.desc())
                .limit(3)
            ).all()
            recent = [(e.type, e.data.get("reason", e.data.get("status"))) for e in last]
            lines.append(
                f"job {row['job_id']} {row['status']} feed={row['feed_id']} "
                f"{row['feed_status']} last={recent}"
            )
    return lines


def burst_of(events: Iterable[ProductChanged], like: demo.Burst | None = None) -> demo.Burst:
    """A :class:`demo.Burst` of ``events`` alone: each SKU's newest value per field by version
    (``like`` lends its unlisted and refused SKUs)."""
    burst = demo.Burst(events=list(events))
    newest: dict[tuple[str, str, str], int] = {}
    for event in burst.events:
        key = (event.account, event.sku)
        state = burst.final.setdefault(key, {"quantity": None, "price": None})
        fields = {
            "quantity": event.quantity,
            "price": None if event.price is None else f"{event.price.amount:.2f}",
        }
        for name, value in fields.items():
            if value is not None and event.version > newest.get((*key, name), -1):
                newest[(*key, name)] = event.version
                state[name] = value
    if like is not None:
        burst.unlisted = {k for k in like.unlisted if k in burst.final}
        burst.refused = {k for k in like.refused if k in burst.final}
    return burst


def end_of_run(run: Any, burst: demo.Burst) -> None:
    """Every check a fault scenario ends with, on a settled run (workers may be stopped).

    Amazon has the newest value of every SKU; nothing is pending but the SKUs Amazon refuses
    for good; every job has ended; no job submitted two feeds; no SKU was in two unfinished
    jobs; replaying the log from position 0 gives exactly the live state and views."""
    amazon_has_newest_values(run, burst)
    left = {(s.account, s.sku) for s in pending_states(run.store)}
    stuck = left - burst.refused - burst.unlisted
    assert not stuck, f"{len(stuck)} SKUs still pending, e.g. {sorted(stuck)[:5]}"
    unfinished = unfinished_jobs(run.store)
    assert not unfinished, f"{len(unfinished)} unfinished jobs: {unfinished[:5]}"
    no_feed_twice(run)
    no_sku_in_two_unfinished_jobs(run.store)
    for partitions in (1, 3):  # in this process, and split over three processes
        verdict = verify(run.store, partitions=partitions)
        assert verdict.clean, (partitions, verdict.differences[:10])


def queue_depth(amqp_url: str, queue: str) -> int:
    """Messages ready in ``queue`` (a passive declare: the queue must exist)."""
    with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)


def settle_processes(run: Any, expected: int, timeout: float, quiet: float = 1.0) -> demo.Progress:
    """Like :func:`demo.wait_settled` for a pipeline of worker processes, but it fails at once,
    with that worker's stderr, when one of them has exited on its own (a crash)."""

    def alive() -> None:
        for worker in run.procs.workers.values():
            assert worker.running, f"{worker.name} exited by itself:\n{worker.stderr()[-5000:]}"

    state = demo.wait_settled(run.store, expected, timeout, quiet, watch=alive)
    assert state.recorded >= expected and state.settled, (
        f"not settled after {timeout:.0f}s: {state}; unfinished jobs: "
        f"{unfinished_jobs(run.store)[:5]}"
    )
    return state
