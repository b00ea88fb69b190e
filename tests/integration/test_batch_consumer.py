"""The batch consumer with a handler that answers later (the batcher's recorder process).

One batch is in flight at a time; a batch is acked only once its handler has answered, in
the order the batches arrived; a batch whose handler fails transiently stays unacked when
the consumer stops, and RabbitMQ gives it to the next consumer.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketsync import demo
from marketsync.bootstrap import Stopper, open_store, run_workers
from marketsync.eventlog import tables
from marketsync.eventlog.database import create_engine
from marketsync.eventlog.store import EventStore
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.schemas.storefront import ProductChanged
from marketsync.workers.broker import (
    CONTRACT_TOPOLOGY,
    BatchConsumer,
    Topology,
    Verdicts,
    connect,
)
from marketsync.workers.errors import TransientFailure
from marketsync.workers.recorder import Recorder
from tests.faults.checks import queue_depth
from tests.integration.pipeline.processes import Processes, Worker, processes

pytestmark = pytest.mark.integration

TIMEOUT = 30.0


class LaterHandler:
    """Hands out a future per submitted batch; the test decides when and how each ends."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.futures: list[Future[Verdicts]] = []
        self.submitted = threading.Condition()

    def __call__(self, bodies: Sequence[bytes]) -> Future[Verdicts]:
        future: Future[Verdicts] = Future()
        with self.submitted:
            self.batches.append(list(bodies))
            self.futures.append(future)
            self.submitted.notify_all()
        return future

    def wait_for(self, count: int) -> None:
        with self.submitted:
            assert self.submitted.wait_for(lambda: len(self.batches) >= count, TIMEOUT), (
                f"{len(self.batches)} batches submitted, expected {count}"
            )


def test_one_batch_in_flight_acked_only_once_answered(amqp_url: str) -> None:
    topology = Topology(prefix="consumer-test")
    with connect(amqp_url) as connection:
        topology.declare(connection)
        producer = connection.Producer()
        for n in range(6):
            producer.publish(
                f"m{n}".encode(), exchange=topology.exchange, routing_key="product.changed"
            )
    handler = LaterHandler()
    with connect(amqp_url) as connection:
        consumer = BatchConsumer(connection, handler, batch_size=2, topology=topology)
        worker = threading.Thread(target=consumer.run_forever, daemon=True)
        worker.start()
        try:
            handler.wait_for(1)
            time.sleep(0.5)  # the second batch is in the buffer: it must wait its turn
            assert len(handler.batches) == 1, "a second batch went out while one was in flight"

            handler.futures[0].set_result([None, None])
            handler.wait_for(2)
            time.sleep(0.5)
            assert len(handler.batches) == 2

            handler.futures[1].set_result([None, "not wanted here"])  # one dead letter
            handler.wait_for(3)
            handler.futures[2].set_exception(TransientFailure("database restarting"))
            consumer.should_stop = True  # stops while the third batch is being retried
            worker.join(TIMEOUT)
            assert not worker.is_alive()
        finally:
            consumer.should_stop = True
    assert [b for batch in handler.batches for b in batch] == [f"m{n}".encode() for n in range(6)]
    # the third batch was never answered: back in the queue for the next consumer
    assert queue_depth(amqp_url, topology.batcher_queue.name) == 2
    assert queue_depth(amqp_url, topology.dead_queue.name) == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_recorder_that_dies_stops_the_batcher_and_loses_nothing(
    amqp_url: str, sqlite_url: str
) -> None:
    """SIGKILL the batcher's recorder process: the batcher stops on the error (a supervisor
    restarts it), the batches it had not acked come back, and a new batcher records every
    change exactly once."""
    settings = demo.run_settings(amqp_url, sqlite_url, None, demo.credentials_env())
    store = open_store(settings)
    with connect(settings.amqp_url) as connection:
        CONTRACT_TOPOLOGY.declare(connection)
    account, _seller, marketplace, _currency = demo.ACCOUNTS[0]
    changes = [
        ProductChanged(
            account=account, marketplace_id=marketplace, sku=f"SKU-{i:04d}", version=1, quantity=i
        )
        for i in range(3000)
    ]
    first = Stopper()
    threads = run_workers(settings, ("batcher",), first)
    deadline = time.monotonic() + TIMEOUT
    while not (recorders := multiprocessing.active_children()):
        assert time.monotonic() < deadline, "no recorder process started"
        time.sleep(0.05)
    with StorefrontPublisher(settings.amqp_url) as publisher:
        publisher.publish_many(changes[:1500])
        while _recorded(store) == 0:
            assert time.monotonic() < deadline, "nothing recorded"
            time.sleep(0.05)
        for process in recorders:
            os.kill(process.pid, signal.SIGKILL)
        for thread in threads:
            thread.join(TIMEOUT)
        assert first.crashed == ["batcher"], "the batcher went on without its recorder"
        publisher.publish_many(changes[1500:])

    second = Stopper()
    threads = run_workers(settings, ("batcher",), second)
    try:
        while _recorded(store) < len(changes):
            assert time.monotonic() < deadline, f"{_recorded(store)} of {len(changes)} recorded"
            time.sleep(0.1)
        time.sleep(1.0)  # anything redelivered twice would be recorded by now
        assert _recorded(store) == len(changes)
    finally:
        second.stop()
        for thread in threads:
            thread.join(TIMEOUT)
    assert not second.crashed


def _recorded(store: EventStore) -> int:
    events = tables.events
    with store.read() as connection:
        query = sa.select(sa.func.count()).where(events.c.type == "ChangeRecorded")
        return int(connection.execute(query).scalar_one())


def test_a_batcher_killed_takes_its_recorder_with_it(
    amqp_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    """``kill -9`` of ``marketsync worker batcher``: its recorder process ends too, rather
    than living on, orphaned, with a database connection."""
    environ = demo.credentials_env()
    settings = demo.run_settings(amqp_url, sqlite_url, None, environ)
    with processes(settings, environ, tmp_path) as procs:
        _worker, recorders = _batcher_and_recorders(procs)
        deadline = time.monotonic() + TIMEOUT
        procs.kill("batcher")
        while any(Path(f"/proc/{pid}").exists() for pid in recorders):
            assert time.monotonic() < deadline, f"recorder {recorders} outlived its batcher"
            time.sleep(0.1)


def test_a_batcher_leaves_the_database_to_its_recorder(
    amqp_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """``marketsync worker batcher`` on a database nobody has migrated: its recorder brings
    the schema up to date and records, while the worker's own process never loads the
    database driver nor SQLAlchemy (30 MB of the batcher's memory, which is a benchmark
    target). Both show in a process's memory map: the driver's libpq and SQLAlchemy's
    compiled extensions."""
    environ = demo.credentials_env()
    settings = demo.run_settings(amqp_url, postgres_url, None, environ)
    account, _seller, marketplace, _currency = demo.ACCOUNTS[0]
    with processes(settings, environ, tmp_path) as procs:
        worker, recorders = _batcher_and_recorders(procs)
        deadline = time.monotonic() + TIMEOUT
        with connect(settings.amqp_url) as connection:
            CONTRACT_TOPOLOGY.declare(connection)
        change = ProductChanged(
            account=account, marketplace_id=marketplace, sku="SKU-1", version=1, quantity=3
        )
        with StorefrontPublisher(settings.amqp_url) as publisher:
            publisher.publish(change)
        store = EventStore(create_engine(postgres_url))
        try:
            while _recorded_if_migrated(store) == 0:
                assert worker.running, worker.stderr()
                assert time.monotonic() < deadline, "nothing recorded"
                time.sleep(0.1)
        finally:
            store.engine.dispose()
        for library in ("libpq", "/sqlalchemy/"):
            assert library in _mapped(recorders[0]), f"the check cannot see {library} at all"
            assert library not in _mapped(worker.pid), f"the batcher's own process has {library}"


def _recorded_if_migrated(store: EventStore) -> int:
    try:
        return _recorded(store)
    except sa.exc.ProgrammingError:  # no table yet: the recorder is still migrating
        return 0


def _mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _batcher_and_recorders(procs: Processes) -> tuple[Worker, list[int]]:
    """Start ``marketsync worker batcher``; it and its recorder's pid, once that runs."""
    worker = procs.start("batcher")
    deadline = time.monotonic() + TIMEOUT
    while not (recorders := _recorders(worker.pid)):
        assert worker.running, worker.stderr()
        assert time.monotonic() < deadline, "no recorder process started"
        time.sleep(0.1)
    return worker, recorders


def _recorders(pid: int) -> list[int]:
    """The children of ``pid`` that multiprocessing spawned to run work (not its tracker)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += (task / "children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_a_batcher_takes_no_message_before_its_recorder_runs(amqp_url: str) -> None:
    """The recorder starts before the consumer does. One that cannot start (here: no driver
    for the database URL) stops the batcher while the waiting message has not even been
    delivered: it is still in the queue, never redelivered, nothing dead-lettered."""
    settings = demo.run_settings(amqp_url, "nosuchdb://nowhere", None, demo.credentials_env())
    topology = Topology(prefix=f"t-early-{os.getpid()}")
    with connect(amqp_url) as connection:
        topology.declare(connection)
    try:
        account, _seller, marketplace, _currency = demo.ACCOUNTS[0]
        change = ProductChanged(
            account=account, marketplace_id=marketplace, sku="SKU-1", version=1, quantity=1
        )
        with StorefrontPublisher(amqp_url, exchange=topology.exchange.name) as publisher:
            publisher.publish(change)
        with pytest.raises(sa.exc.NoSuchModuleError, match="nosuchdb"):
            run_workers(settings, ("batcher",), Stopper(), topology)
        with connect(amqp_url) as connection:
            channel = connection.default_channel
            message = channel.basic_get(topology.batcher_queue.name)
            assert message is not None, "the message left the queue"
            assert not message.delivery_info["redelivered"], "the batcher took it first"
            channel.basic_ack(message.delivery_tag)
        assert queue_depth(amqp_url, topology.dead_queue.name) == 0
    finally:
        with connect(amqp_url) as connection:
            topology.delete(connection)


def test_a_job_formation_error_reaches_the_worker(amqp_url: str, postgres_url: str) -> None:
    """Job formation runs in the recorder; an error there other than an unreachable database
    (here: a table dropped behind the recorder's back, so PostgreSQL finds none) is raised in
    the worker on its next idle tick, which then stops, rather than being lost in the child."""
    settings = demo.run_settings(amqp_url, postgres_url, None, demo.credentials_env())
    recorder = Recorder(settings, None)
    try:
        recorder.start()  # migrates the schema
        engine = create_engine(postgres_url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE rate_buckets, job_state"))
        engine.dispose()
        deadline = time.monotonic() + TIMEOUT
        with pytest.raises(sa.exc.ProgrammingError, match="does not exist"):
            while time.monotonic() < deadline:
                recorder.form_jobs()
                time.sleep(0.05)
    finally:
        recorder.close()
