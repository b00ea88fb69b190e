"""Memory: the batcher's peak RSS with a million distinct SKUs pending.

The batcher runs in a process of its own on a database where every SKU of the synthetic log
is pending (Amazon's real limits, real time), so it reserves jobs as its token buckets allow
while a stream of new changes to those SKUs arrives through RabbitMQ. When the changes are
recorded and no new job has formed for a few seconds, it is stopped and reports its peak
resident set size (``VmHWM``). The reference is the same batcher doing the same on an empty
database: what the process needs before any pending state.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from marketsync.bench import broker_reference
from marketsync.bench.ingest import head, wait_recorded
from marketsync.bench.processes import WorkerProcess
from marketsync.bench.report import MB, Figure
from marketsync.bench.workload import Message, run_config
from marketsync.eventlog import tables
from marketsync.eventlog.database import create_engine, migrate
from marketsync.workers.broker import Topology, connect

QUIET = 3.0  # seconds without a new job before the batcher counts as done
TARGET = 200 * MB


@dataclass(frozen=True, slots=True)
class Footprint:
    peak_rss_bytes: int
    jobs: int
    skus_in_jobs: int
    changes_recorded: int
    seconds: float


def _jobs(engine: sa.Engine) -> tuple[int, int]:
    jobs, skus = tables.job_state, tables.sku_state
    with engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one()
        claimed = connection.execute(
            sa.select(sa.func.count()).where(skus.c.job_id.is_not(None))
        ).scalar_one()
    return int(count), int(claimed)


def _settle(
    engine: sa.Engine, worker: WorkerProcess, minimum: float, deadline: float
) -> tuple[int, int]:
    """Wait until no job has formed for QUIET seconds (and at least ``minimum`` seconds),
    or until ``deadline`` (time.monotonic())."""
    started = time.monotonic()
    last, changed_at = _jobs(engine), started
    while time.monotonic() < max(deadline, started + minimum + QUIET) and worker.alive():
        time.sleep(0.5)
        now = _jobs(engine)
        if now != last:
            last, changed_at = now, time.monotonic()
        elif time.monotonic() - changed_at >= QUIET and time.monotonic() - started >= minimum:
            break
    return last


def measure(
    amqp_url: str,
    database_url: str,
    prefix: str,
    messages: Sequence[Message],
    minimum: float,
    budget: float,
) -> Footprint:
    """The batcher on ``database_url`` while ``messages`` arrive; its peak RSS."""
    config = run_config(amqp_url, database_url)
    topology = Topology(prefix=prefix)
    engine = create_engine(database_url)
    migrate(engine)
    before = head(engine)  # the log holds changes already: count the new ones on top
    started = time.monotonic()
    worker = WorkerProcess(config, ("batcher",), prefix).start()
    try:
        broker_reference.wait_for_consumer(amqp_url, topology, alive=worker.alive)
        publisher, results = broker_reference.start_publisher(
            amqp_url, topology.exchange.name, messages
        )
        _, recorded = wait_recorded(engine, len(messages), worker, budget, after=before)
        results.get(timeout=60)
        publisher.join(timeout=30)
        jobs, claimed = _settle(engine, worker, minimum, started + budget)
    finally:
        exit_info = worker.stop()
        engine.dispose()
        with connect(amqp_url) as connection:
            topology.delete(connection)
    if not exit_info.clean:
        raise RuntimeError("the batcher did not stop cleanly (crashed or killed)")
    return Footprint(exit_info.peak_rss_bytes, jobs, claimed, recorded, time.monotonic() - started)


def figure(full: Footprint, base: Footprint, skus: int, changes: int) -> Figure:
    return Figure(
        "batcher_peak_rss",
        full.peak_rss_bytes / MB,
        "MB",
        base.peak_rss_bytes / MB,
        "empty log",
        f"< {TARGET / MB:.0f} MB",
        full.peak_rss_bytes < TARGET,
        {
            "skus_pending": skus,
            "changes_meanwhile": changes,
            "changes_recorded": full.changes_recorded,
            "jobs_formed": full.jobs,
            "skus_in_jobs": full.skus_in_jobs,
            "seconds": full.seconds,
        },
    )
