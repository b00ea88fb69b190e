"""PostgreSQL restarted mid-run under batcher, poller and projector processes: they wait for
the database and carry on by themselves, and nothing is lost or submitted twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from marketsync import demo
from marketsync.bootstrap import WORKERS
from marketsync.eventlog.errors import DatabaseUnavailable
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.schemas.storefront import DEAD_LETTER_QUEUE
from marketsync.workers.broker import CONTRACT_TOPOLOGY
from tests import services
from tests.faults import checks, outages
from tests.integration.pipeline.harness import wait_until
from tests.integration.pipeline.processes import ProcessRun

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.slow]

SEED = 20261206
CHANGES, SKUS = 2000, 100
CHUNK, PAUSE = 100, 0.5  # publishing spans the outages
STOPPED_FOR = 3.0  # the second outage: stop, this long down, start


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of this test's own, created and dropped over connections opened for the
    purpose (a pooled admin connection would not survive the restart)."""
    server = urlsplit(services.postgres_server_url())
    name = f"marketsync_test_{uuid.uuid4().hex[:12]}"
    admin_url = urlunsplit(
        server._replace(scheme="postgresql+psycopg", path=server.path or "/test")
    )

    def admin(statement: str) -> None:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(statement))
        finally:
            engine.dispose()

    admin(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(server._replace(path=f"/{name}"))
    finally:
        outages.wait_for(lambda: outages.database_accepts(admin_url), 90, "PostgreSQL")
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def burst(scale: int) -> demo.Burst:
    return demo.make_burst(CHANGES * scale, SKUS, seed=SEED)


def publish_in_chunks(amqp_url: str, burst: demo.Burst, published: list[int]) -> None:
    with StorefrontPublisher(amqp_url) as publisher:
        for start in range(0, len(burst.events), CHUNK):
            published.append(publisher.publish_many(burst.events[start : start + CHUNK]))
            time.sleep(PAUSE)


def recorded(run: ProcessRun) -> int:
    """Changes in the log so far (0 while the database is down); fails when a worker died."""
    for worker in run.procs.workers.values():
        assert worker.running, f"{worker.name} exited by itself:\n{worker.stderr()[-5000:]}"
    try:
        return demo.progress(run.store).recorded
    except DatabaseUnavailable:
        return 0


def test_database_restart_is_survived_without_a_person(
    run: ProcessRun, burst: demo.Burst, amqp_url: str, postgres_url: str, scale: int, tally: Any
) -> None:
    """PostgreSQL restarted (and stopped for seconds) mid-run: workers recover, all synced."""
    for name in WORKERS:
        run.procs.start(name)
    for name in WORKERS:
        run.procs.wait_ready(name)
    published: list[int] = []
    publisher = threading.Thread(target=publish_in_chunks, args=(amqp_url, burst, published))
    publisher.start()
    outages_survived, down = 0, []
    plan = [0.0, STOPPED_FOR] * scale  # a quick restart, then a few seconds without it
    try:
        for k, seconds in enumerate(plan):
            share = (k + 1) * len(burst.events) // (len(plan) + 2)
            wait_until(lambda n=share: recorded(run) >= n, 120, f"{share} changes recorded")
            down.append(outages.database_outage(postgres_url, seconds))
            outages_survived += 1
    finally:
        publisher.join(timeout=120 * scale)
    assert not publisher.is_alive() and sum(published) == len(burst.events)

    checks.settle_processes(run, len(burst.events), timeout=120 * scale)
    for name in WORKERS:  # nobody restarted them, and they still stop cleanly
        assert run.procs.workers[name].starts == 1
        assert run.procs.stop(name) == 0, run.procs.stderr()

    checks.end_of_run(run, burst)
    events = checks.all_events(run.store)
    assert sorted(e.event_id for e in events if e.type == "ChangeRecorded") == sorted(
        e.id for e in burst.events
    )
    assert checks.queue_depth(amqp_url, CONTRACT_TOPOLOGY.batcher_queue.name) == 0
    assert checks.queue_depth(amqp_url, DEAD_LETTER_QUEUE) == 0, "valid changes dead-lettered"
    print(f"\ndatabase down {', '.join(f'{s:.1f}s' for s in down)}", end=" ")
    tally.add(restarts=outages_survived, published=len(burst.events))
