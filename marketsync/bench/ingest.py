"""Ingest: storefront events published with confirms until recorded and folded, one batcher.

Right before and right after each run, the broker reference pushes the same messages through
the same kind of queue with no pipeline behind it, and the run is compared with the mean of
the two: on a shared machine the broker's own rate moved by a third between runs a minute
apart, and a reference on one side only was as likely to be the fast or the slow one. The
pipeline's figure runs from the first
publish to the moment the last event is committed in the log (in the transaction that also
folds it into the pending queue). Both sides publish with :class:`WindowedPublisher` (a
window of unconfirmed messages), so the only difference is what consumes.

The storefront SDK's :class:`~marketsync.producers.publisher.StorefrontPublisher` waits for
each confirm; :func:`measure_sdk_publisher` puts its rate beside the windowed publisher's.

Two more figures split the batcher's time between its parts, on the same messages:
:func:`handler_rate` runs the batcher's recorder (its child process) with no broker at
all, and :func:`kombu_rate` drains the messages through :class:`BatchConsumer` with a
handler that does nothing, no database at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from marketsync import logs
from marketsync.bench import broker_reference
from marketsync.bench.processes import WorkerProcess
from marketsync.bench.report import MB, Figure
from marketsync.bench.workload import Message, RunConfig
from marketsync.eventlog import tables
from marketsync.eventlog.database import create_engine, migrate
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.schemas.storefront import ProductChanged
from marketsync.settings import PipelineSettings
from marketsync.workers.broker import BatchConsumer, Topology, at_once, connect
from marketsync.workers.recorder import Recorder

TIMEOUT = 900.0
POLL = 0.05
TARGET = 0.60  # of the broker reference's rate
# The batcher settles a batch of up to batch_size with one multiple-ack; so does the reference.
REFERENCE_ACK_EVERY = PipelineSettings().batch_size


@dataclass(frozen=True, slots=True)
class Ingested:
    rate: float  # events a second, first publish to last event committed
    publish_rate: float  # the publisher's own confirm rate meanwhile
    events: int
    recorded: int  # fewer than events when the budget ran out first
    skus_pending: int
    peak_rss_bytes: int


def head(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        query = sa.select(sa.func.max(tables.events.c.position))
        return int(connection.execute(query).scalar() or 0)


def _recorded(engine: sa.Engine, after: int) -> int:
    """Changes in the log after position ``after`` (a range scan, cheap on a big log)."""
    events = tables.events
    with engine.connect() as connection:
        query = (
            sa.select(sa.func.count())
            .where(events.c.position > after)
            .where(events.c.type == "ChangeRecorded")
        )
        return int(connection.execute(query).scalar_one())


def _pending(engine: sa.Engine) -> int:
    skus = tables.sku_state
    with engine.connect() as connection:
        query = sa.select(sa.func.count()).where(skus.c.pending_since.is_not(None))
        return int(connection.execute(query).scalar_one())


def wait_recorded(
    engine: sa.Engine, count: int, worker: WorkerProcess, budget: float, after: int = 0
) -> tuple[float, int]:
    """(time.monotonic(), changes recorded after ``after``) once ``count`` changes are in
    the log, or when ``budget`` seconds are spent; polled every 50 ms."""
    deadline = time.monotonic() + budget
    seen = 0
    while True:
        now = time.monotonic()
        try:
            seen = _recorded(engine, after) if head(engine) - after >= count else seen
        except sa.exc.OperationalError:
            seen = 0  # the batcher has not migrated the schema yet
        if seen >= count or now > deadline:
            return now, seen
        if not worker.alive():
            raise RuntimeError(f"the batcher died having recorded {seen} of {count} events")
        time.sleep(POLL)


def measure(
    config: RunConfig, amqp_url: str, prefix: str, messages: Sequence[Message], budget: float
) -> Ingested:
    """One batcher in its own process; the windowed publisher in another."""
    topology = Topology(prefix=prefix)
    engine = create_engine(config.settings().database_url)
    worker = WorkerProcess(config, ("batcher",), prefix).start()
    try:
        broker_reference.wait_for_consumer(amqp_url, topology, alive=worker.alive)
        publisher, results = broker_reference.start_publisher(
            amqp_url, topology.exchange.name, messages
        )
        recorded_at, recorded = wait_recorded(engine, len(messages), worker, budget)
        published: broker_reference.Published = results.get(timeout=TIMEOUT)
        publisher.join(timeout=30)
        pending = _pending(engine)
    finally:
        exit_info = worker.stop()
        engine.dispose()
        with connect(amqp_url) as connection:
            topology.delete(connection)
    return Ingested(
        rate=recorded / (recorded_at - published.started),
        publish_rate=len(messages) / (published.finished - published.started),
        events=len(messages),
        recorded=recorded,
        skus_pending=pending,
        peak_rss_bytes=exit_info.peak_rss_bytes,
    )


def handler_rate(config: RunConfig, messages: Sequence[Message]) -> float:
    """Events a second through the batcher's recorder alone (:class:`Recorder`: the child
    process that runs :meth:`Batcher.handle`), fed batches of ``batch_size`` back to back."""
    settings = config.settings()
    engine = create_engine(settings.database_url)
    migrate(engine)
    engine.dispose()
    bodies = [body for _key, body, _id in messages]
    size = settings.pipeline.batch_size
    recorder = Recorder(settings, logs.current())
    try:
        recorder.start()
        started = time.perf_counter()
        pending = [recorder.handle(bodies[i : i + size]) for i in range(0, len(bodies), size)]
        for future in pending:
            future.result()
        return len(bodies) / (time.perf_counter() - started)
    finally:
        recorder.close()


def kombu_rate(amqp_url: str, prefix: str, messages: Sequence[Message]) -> float:
    """Events a second through :class:`BatchConsumer` with a handler that does nothing: the
    messages are published first, then drained (first delivery to last batch settled)."""
    topology = Topology(prefix=prefix)
    with connect(amqp_url) as connection:
        topology.declare(connection)
    try:
        publisher, results = broker_reference.start_publisher(
            amqp_url, topology.exchange.name, messages
        )
        results.get(timeout=TIMEOUT)
        publisher.join(timeout=30)
        seen = {"count": 0, "first": 0.0, "first_batch": 0, "last": 0.0}

        def nothing(bodies: Sequence[bytes]) -> list[str | None]:
            now = time.perf_counter()
            if not seen["count"]:
                seen["first"], seen["first_batch"] = now, len(bodies)
            seen["count"] += len(bodies)
            seen["last"] = now
            if seen["count"] >= len(messages):
                consumer.should_stop = True
            return [None] * len(bodies)

        with connect(amqp_url) as connection:
            consumer = BatchConsumer(connection, at_once(nothing), topology=topology)
            worker = threading.Thread(target=consumer.run_forever, daemon=True)
            worker.start()
            worker.join(timeout=TIMEOUT)
            consumer.should_stop = True
        # from the first batch handed over to the last, so the first batch's are not counted
        received = seen["count"] - seen["first_batch"]
        return received / (seen["last"] - seen["first"]) if received > 0 else 0.0
    finally:
        with connect(amqp_url) as connection:
            topology.delete(connection)


def measure_reference(
    amqp_url: str, prefix: str, messages: Sequence[Message]
) -> broker_reference.Reference:
    return broker_reference.measure(amqp_url, prefix, messages, ack_every=REFERENCE_ACK_EVERY)


def measure_sdk_publisher(amqp_url: str, prefix: str, events: Sequence[ProductChanged]) -> float:
    """Events a second through :meth:`StorefrontPublisher.publish_many` (a confirm each)."""
    topology = Topology(prefix=prefix)
    with connect(amqp_url) as connection:
        topology.declare(connection)
    try:
        with StorefrontPublisher(amqp_url, exchange=topology.exchange.name) as publisher:
            started = time.monotonic()
            publisher.publish_many(events)
            return len(events) / (time.monotonic() - started)
    finally:
        with connect(amqp_url) as connection:
            topology.delete(connection)


@dataclass(frozen=True, slots=True)
class Round:
    """One batcher run and the broker reference measured right before and right after it."""

    result: Ingested
    before: broker_reference.Reference
    after: broker_reference.Reference

    @property
    def reference_rate(self) -> float:
        return (self.before.rate + self.after.rate) / 2

    @property
    def ratio(self) -> float:
        return self.result.rate / self.reference_rate


def median(rounds: Sequence[Round]) -> Round:
    """The round whose ratio is the median (the lower one of the middle two)."""
    ordered = sorted(rounds, key=lambda r: r.ratio)
    return ordered[(len(ordered) - 1) // 2]


def figure(name: str, rounds: Sequence[Round], skus: int, parts: dict[str, float]) -> Figure:
    """The median round's figure; every round is in the details."""
    result, reference = (chosen := median(rounds)).result, chosen.reference_rate
    return Figure(
        name,
        result.rate,
        "events/s",
        reference,
        "broker",
        f">= {TARGET:.0%} of broker",
        result.rate >= TARGET * reference,
        {
            "events": result.events,
            "recorded_within_budget": result.recorded,
            "skus": skus,
            "skus_pending": result.skus_pending,
            "publisher": f"windowed confirms, window {broker_reference.WINDOW}",
            "publish_rate": result.publish_rate,
            "batcher_peak_rss_mb": result.peak_rss_bytes / MB,
            "rounds": [
                {
                    "rate": r.result.rate,
                    "broker_before": r.before.rate,
                    "broker_after": r.after.rate,
                    "ratio": r.ratio,
                }
                for r in rounds
            ],
            **parts,
        },
    )


def sdk_figure(
    rate: float, references: Sequence[broker_reference.Reference], events: int
) -> Figure:
    windowed = sum(r.publish_rate for r in references) / len(references)
    return Figure(
        "publisher_sdk",
        rate,
        "events/s",
        windowed,
        "windowed",
        details={"events": events, "publisher": "StorefrontPublisher.publish_many"},
    )
