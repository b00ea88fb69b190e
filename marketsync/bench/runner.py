"""One bench run: sizes, order, each figure beside its reference, clean-up.

Groups (``--only`` takes these names): ``broker``, ``ingest``, ``coalescing``,
``freshness``, ``replay``, ``memory``. A group that fails yields figures marked with the
error instead of values; the others still run. Replay and memory share one synthetic log.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marketsync.bench import (
    broker_reference,
    coalescing,
    freshness,
    ingest,
    memory,
    replay,
    synthetic_log,
)
from marketsync.bench.report import Figure, failed, machine
from marketsync.bench.services import Sandbox, sandbox
from marketsync.bench.workload import ACCOUNTS, changes, message, run_config
from marketsync.eventlog.database import create_engine, migrate
from marketsync.eventlog.store import EventStore

Say = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    ingest_events: int
    ingest_skus: int
    ingest_budget: float  # seconds; the rate is what was recorded by then
    ingest_rounds: int  # pairs of reference and batcher per database; the median counts
    single_ack_events: int
    sdk_events: int
    coalescing_changes: int
    coalescing_skus: int
    coalescing_accounts: int
    coalescing_budget: float
    freshness_seconds: float
    freshness_rate: float
    replay_events: int
    projector_events: int
    memory_skus: int
    memory_changes: int
    memory_budget: float


QUICK = Sizes(
    ingest_events=10_000,
    ingest_skus=2_000,
    ingest_budget=60.0,
    ingest_rounds=1,
    single_ack_events=5_000,
    sdk_events=1_000,
    coalescing_changes=10_000,
    coalescing_skus=2_000,
    coalescing_accounts=2,
    coalescing_budget=120.0,
    freshness_seconds=12.0,
    freshness_rate=20.0,
    replay_events=20_000,
    projector_events=5_000,
    memory_skus=50_000,
    memory_changes=2_000,
    memory_budget=60.0,
)
FULL = Sizes(
    ingest_events=50_000,
    ingest_skus=10_000,
    ingest_budget=120.0,
    ingest_rounds=5,
    single_ack_events=30_000,
    sdk_events=5_000,
    coalescing_changes=40_000,
    coalescing_skus=30_000,  # one account: more than one feed's 25,000 messages
    coalescing_accounts=1,
    coalescing_budget=300.0,
    freshness_seconds=60.0,
    freshness_rate=20.0,
    replay_events=1_000_000,
    projector_events=20_000,
    memory_skus=1_000_000,
    memory_changes=10_000,
    memory_budget=120.0,
)
BACKENDS = ("postgresql", "sqlite")


@dataclass
class Run:
    box: Sandbox
    sizes: Sizes
    say: Say
    references: list[broker_reference.Reference] = field(default_factory=list)
    written: synthetic_log.Written | None = None
    _log: Path | None = None

    def database(self, backend: str, name: str) -> str:
        if backend == "postgresql":
            return self.box.postgres_url(name)
        return self.box.sqlite_url(name)

    def log(self) -> Path:
        """The synthetic log (written on first use), big enough for replay and memory."""
        if self._log is None:
            count = max(self.sizes.replay_events, self.sizes.memory_skus)
            self.say(f"writing a log of {count:,} events through the event store")
            engine = create_engine(self.box.sqlite_url("log"))
            migrate(engine)
            self.written = synthetic_log.write(EventStore(engine), count)
            engine.dispose()
            self.say(f"  {self.written.rate:,.0f} events/s through EventStore.write")
            # Written a moment ago, the log's pages are still being flushed: the kernel would
            # slow down the measurements that follow (which write too) while it does.
            os.sync()
            self._log = self.box.sqlite_path("log")
        return self._log


def _ingest(run: Run) -> list[Figure]:
    events = changes(run.sizes.ingest_events, run.sizes.ingest_skus)
    messages = [message(e) for e in events]
    figures = []
    run.say("ingest: the kombu consumer alone, with a handler that does nothing")
    kombu_alone = ingest.kombu_rate(run.box.amqp_url, run.box.prefix("kombu"), messages)
    rounds: dict[str, list[ingest.Round]] = {backend: [] for backend in BACKENDS}
    errors: dict[str, Exception] = {}

    def reference() -> broker_reference.Reference:
        prefix = run.box.prefix(f"ref-ingest-{len(run.references)}")
        measured = ingest.measure_reference(run.box.amqp_url, prefix, messages)
        run.references.append(measured)
        return measured

    # reference, batcher, reference, batcher, ...: each reference is the one after a run
    # and the one before the next
    before: broker_reference.Reference | None = None
    for number in range(1, run.sizes.ingest_rounds + 1):
        for backend in BACKENDS:  # taking turns: a slow minute falls on both alike
            if backend in errors:
                continue
            name = f"ingest_{backend}"
            run.say(
                f"{name}: one batcher between two broker references ({len(messages):,} "
                f"events; round {number} of {run.sizes.ingest_rounds})"
            )
            # A fresh log each round; the first keeps the name replay reads the ingest log by.
            database = "ingest" if number == 1 else f"ingest-{number}"
            try:
                before = before or reference()
                config = run_config(run.box.amqp_url, run.database(backend, database))
                prefix = run.box.prefix(f"{name}-{number}")
                result = ingest.measure(
                    config, run.box.amqp_url, prefix, messages, run.sizes.ingest_budget
                )
                after = reference()
            except Exception as e:
                errors[backend] = e
                before = None
                continue
            rounds[backend].append(ingest.Round(result, before, after))
            before = after
    for backend in BACKENDS:
        name = f"ingest_{backend}"
        if backend in errors:
            figures.append(failed(name, "events/s", errors[backend]))
            continue
        run.say(f"{name}: the batcher's handler alone, no broker")
        try:
            alone = run_config(run.box.amqp_url, run.database(backend, "handler"))
            parts = {
                "handler_alone_rate": ingest.handler_rate(alone, messages),
                "kombu_consumer_alone_rate": kombu_alone,
            }
        except Exception as e:
            figures.append(failed(name, "events/s", e))
            continue
        figures.append(ingest.figure(name, rounds[backend], run.sizes.ingest_skus, parts))
    return figures


def _broker(run: Run) -> list[Figure]:
    events = changes(run.sizes.ingest_events, run.sizes.ingest_skus)
    messages = [message(e) for e in events]
    if not run.references:
        run.say(f"broker reference ({len(messages):,} events)")
        reference = ingest.measure_reference(run.box.amqp_url, run.box.prefix("ref"), messages)
        run.references.append(reference)
    single = messages[: run.sizes.single_ack_events]
    run.say(f"broker reference with an ack per message ({len(single):,} events)")
    one_by_one = broker_reference.measure(run.box.amqp_url, run.box.prefix("ref-single"), single)
    run.say(f"storefront SDK publisher, a confirm each ({run.sizes.sdk_events:,} events)")
    sdk = ingest.measure_sdk_publisher(
        run.box.amqp_url, run.box.prefix("sdk"), events[: run.sizes.sdk_events]
    )
    return [
        broker_reference.figure(run.references, ingest.REFERENCE_ACK_EVERY, one_by_one.rate),
        ingest.sdk_figure(sdk, run.references, run.sizes.sdk_events),
    ]


def _coalescing(run: Run) -> list[Figure]:
    s = run.sizes
    run.say(f"coalescing: {s.coalescing_changes:,} changes over {s.coalescing_skus:,} SKUs")
    accounts = ACCOUNTS[: s.coalescing_accounts]
    events = changes(s.coalescing_changes, s.coalescing_skus, accounts=accounts)
    result = coalescing.measure(
        run.box.amqp_url,
        run.box.sqlite_url("coalescing"),
        run.box.prefix("coalescing"),
        events,
        s.coalescing_budget,
    )
    return coalescing.figures(result)


def _freshness(run: Run) -> list[Figure]:
    s = run.sizes
    run.say(f"freshness: {s.freshness_rate:.0f} changes/s for {s.freshness_seconds:.0f} s")
    url = run.database("postgresql", "freshness")
    result = freshness.measure(
        run.box.amqp_url, url, run.box.prefix("freshness"), s.freshness_seconds, s.freshness_rate
    )
    return freshness.figures(result)


def _replay(run: Run) -> list[Figure]:
    log = run.log()
    run.say(f"replay: {run.sizes.replay_events:,} events")
    result = replay.measure(
        log, run.sizes.replay_events, run.box.scratch / "views", run.sizes.projector_events
    )
    figure = replay.figure(result)
    if run.written is not None:
        figure.details["log_written_rate"] = run.written.rate  # through EventStore.write
    ingested = run.box.sqlite_path("ingest")
    if ingested.exists():  # the ingest run's log: many changes per SKU, as in production
        run.say("replay: the ingest run's log too (several changes per SKU)")
        mixed = replay.measure(ingested, 10**9, run.box.scratch / "views-mixed", 0)
        figure.details["mixed_log"] = {
            "events": mixed.events,
            "skus": mixed.skus,
            "rate": mixed.rate,
            "reference_rate": mixed.reference_rate,
        }
    return [figure]


def _memory(run: Run) -> list[Figure]:
    s = run.sizes
    log = run.log()
    messages = [message(e) for e in changes(s.memory_changes, s.memory_skus, prefix="LOG")]
    run.say(f"memory: the batcher on an empty log, then on {s.memory_skus:,} SKUs pending")
    box, budget = run.box, s.memory_budget
    base = memory.measure(
        box.amqp_url, box.sqlite_url("empty"), box.prefix("memory-0"), messages, 5.0, budget
    )
    full = memory.measure(
        box.amqp_url, f"sqlite:///{log}", box.prefix("memory"), messages, 5.0, budget
    )
    return [memory.figure(full, base, s.memory_skus, s.memory_changes)]


MEASURES: dict[str, tuple[Callable[[Run], list[Figure]], Sequence[str], str]] = {
    "ingest": (_ingest, ("ingest_postgresql", "ingest_sqlite"), "events/s"),
    "broker": (_broker, ("broker_reference", "publisher_sdk"), "events/s"),
    "coalescing": (
        _coalescing,
        ("coalescing_feed_messages", "coalescing_createFeed_calls"),
        "msgs",
    ),
    "freshness": (_freshness, ("freshness_p50", "freshness_p99"), "s"),
    "replay": (_replay, ("replay_sqlite",), "events/s"),
    "memory": (_memory, ("batcher_peak_rss",), "MB"),
}
ORDER = ("ingest", "broker", "coalescing", "freshness", "replay", "memory")
TABLE_ORDER = ("broker", "ingest", "coalescing", "freshness", "replay", "memory")


def run_bench(
    amqp_url: str, postgres_server: str, sizes: Sizes, only: Sequence[str], say: Say
) -> dict[str, Any]:
    """Every selected group, in the order that lets each reuse the last's references."""
    started = time.time()
    found: dict[str, list[Figure]] = {}
    with sandbox(amqp_url, postgres_server) as box:
        info = machine(box.amqp_url, postgres_server)
        run = Run(box, sizes, say)
        for group in ORDER:
            if group not in only:
                continue
            measure, names, unit = MEASURES[group]
            began = time.monotonic()
            try:
                found[group] = measure(run)
            except Exception as e:
                found[group] = [failed(name, unit, e) for name in names]
            say(f"  {group} took {time.monotonic() - began:.0f} s")
    figures = [f for group in TABLE_ORDER for f in found.get(group, [])]
    return {
        "mode": "quick" if sizes == QUICK else "full",
        "run_id": run.box.run_id,
        "started_at": started,
        "seconds": time.time() - started,
        "machine": info,
        "accounts": [a.name for a in ACCOUNTS],
        "sizes": {k: getattr(sizes, k) for k in sizes.__dataclass_fields__},
        "figures": figures,
    }
