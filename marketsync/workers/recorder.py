"""The batcher's recorder: the batcher's database side, in a process of its own.

One batcher has two halves, each about a core's worth of work at full load: receiving
(py-amqp parsing frames, kombu building messages) and recording (decoding and checking each
body, folding it, writing the log and the pending queue, committing). In one thread their
times add up; in two threads of one process they take turns holding the GIL. So the
consumer stays in the worker's process and hands each batch to a :class:`Recorder`, which
runs :meth:`Batcher.handle` and :meth:`Batcher.form_jobs` in a child process, one call at a
time, in the order they were submitted. The consumer goes on receiving the next batch
meanwhile, and acks a batch only once the recorder says it is committed (see
:class:`~marketsync.workers.broker.BatchConsumer`).

The child is a fresh interpreter (``spawn``: no connection, lock or thread is inherited)
that imports only the batcher's database side; the worker's process never imports it at
all (SQLAlchemy, the driver and Alembic would add 30 MB to it). The child configures
logging as the worker did (secrets redacted), brings the schema up to date, builds its own
store and :class:`Batcher`, ignores SIGINT and SIGTERM (the worker stops it once its last
batch is settled), and ends as soon as the worker's process does, however that ends: a
transaction in hand rolls back, and its messages come back from RabbitMQ unacked (a batch
committed just before comes back too, and the event ids make the second recording a no-op).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import TYPE_CHECKING

import structlog

from marketsync import logs
from marketsync.eventlog.errors import DatabaseUnavailable
from marketsync.settings import Settings

if TYPE_CHECKING:
    from marketsync.workers.batcher import Batcher

log = structlog.get_logger(__name__)

Verdicts = Sequence[str | None]

_batcher: Batcher | None = None  # in the child: the one the calls go to


def _start(log_config: logs.LogConfig | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_worker, name="worker-watch", daemon=True).start()
    if log_config is not None:
        logs.configure(**log_config)


def _open(settings: Settings) -> None:
    """Bring the schema up to date and build the batcher; the first call. What it raises
    (an unreachable database, say) reaches the worker as it is, where an error in the
    initializer would reach it only as a broken pool."""
    # The database side is imported here, in the child only: the worker's process never
    # opens the database, and SQLAlchemy with the driver and Alembic would cost it 30 MB.
    from marketsync.eventlog.database import create_engine, migrate
    from marketsync.eventlog.store import EventStore
    from marketsync.workers.batcher import Batcher

    engine = create_engine(settings.database_url)
    migrate(engine)
    global _batcher
    _batcher = Batcher(EventStore(engine), settings)
    # Recording allocates millions of short-lived objects, few of them in cycles. What lives
    # long (modules, SQLAlchemy's caches) leaves the cyclic collector's view, and a young
    # collection runs every 50,000 allocations instead of 700: the handler alone measured
    # about 10% faster.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _exit_with_worker() -> None:
    """Wait for the worker's process to end (a kill -9 included), then end this one: a
    transaction in hand rolls back, and its messages come back from RabbitMQ unacked."""
    worker = multiprocessing.parent_process()
    if worker is not None:
        worker.join()
        os._exit(1)


def _handle(bodies: list[bytes]) -> list[str | None]:
    assert _batcher is not None
    return _batcher.handle(bodies)


def _form_jobs() -> list[int]:
    assert _batcher is not None
    try:
        return _batcher.form_jobs()
    except DatabaseUnavailable as e:
        log.warning("form_jobs_deferred", reason=str(e))
        return []


class Recorder:
    """A child process running one :class:`Batcher`: records batches and forms jobs, one
    call at a time, in the order they were submitted."""

    def __init__(self, settings: Settings, log_config: logs.LogConfig | None) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=get_context("spawn"),
            initializer=_start,
            initargs=(log_config,),
        )
        self._settings = settings
        self._forming: Future[list[int]] | None = None

    def start(self) -> None:
        """Start the child and wait until it can record. The worker calls this before it
        consumes: no message waits on an interpreter still importing (about half a second
        of a core), and a child that cannot start (its error, ``DatabaseUnavailable`` say,
        is raised here) stops the worker before it has taken any message."""
        self._pool.submit(_open, self._settings).result()

    def handle(self, bodies: Sequence[bytes]) -> Future[Verdicts]:
        """Record ``bodies``; the future holds one verdict per body (see ``Batcher.handle``)."""
        return self._pool.submit(_handle, list(bodies))

    def form_jobs(self) -> None:
        """Ask for job formation after the batches already submitted, unless it is still
        pending from the last time (a slow database must not pile these up). An error the
        last one ended with is raised here: the worker stops on it, as it would in-process."""
        if self._forming is not None:
            if not self._forming.done():
                return
            self._forming.result()
        self._forming = self._pool.submit(_form_jobs)

    def close(self) -> None:
        """Wait for the calls submitted, then stop the child."""
        self._pool.shutdown(wait=True)
