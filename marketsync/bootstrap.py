"""The composition root: builds stores, gateways and worker loops from one :class:`Settings`.

Every runnable (``marketsync worker X``, ``marketsync run``, the demo, the tests) goes through
these functions, so they all wire the same parts the same way. Nothing here runs at import.

The database side (SQLAlchemy, the driver, Alembic) and the SP-API client are imported by
the functions that use them, not by this module: ``marketsync worker batcher`` runs only a
consumer in its own process (its recorder, a child process, opens the database), and the
batcher's memory is a benchmark target. Its process measured 61 MB with them, 31 without.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

import structlog

from marketsync import logs
from marketsync.eventlog.errors import DatabaseUnavailable
from marketsync.settings import Settings
from marketsync.workers.broker import CONTRACT_TOPOLOGY, BatchConsumer, Topology, connect
from marketsync.workers.recorder import Recorder

if TYPE_CHECKING:
    from marketsync.amazon.feeds import FeedsGateway
    from marketsync.eventlog.store import EventStore
    from marketsync.workers.poller import GatewayFactory

log = structlog.get_logger(__name__)
T = TypeVar("T")

WORKERS = ("batcher", "poller", "projector")


def open_store(settings: Settings) -> EventStore:
    """The event store, its schema migrated to the newest version."""
    from marketsync.eventlog.database import create_engine, migrate
    from marketsync.eventlog.store import EventStore

    engine = create_engine(settings.database_url)
    migrate(engine)
    return EventStore(engine)


def gateways(settings: Settings) -> GatewayFactory:
    """One Feeds client per account and marketplace, made on first use."""
    from marketsync.amazon.spapi import SpApiFeeds  # 8 MB: only the poller calls Amazon

    made: dict[tuple[str, str], FeedsGateway] = {}
    lock = threading.Lock()

    def gateway(account: str, marketplace: str) -> FeedsGateway:
        with lock:
            key = (account, marketplace)
            if key not in made:
                made[key] = SpApiFeeds(settings.account(account), marketplace, settings.amazon)
            return made[key]

    return gateway


@dataclass
class Stopper:
    """Set by SIGTERM/SIGINT (or by a test); every loop watches it."""

    event: threading.Event = field(default_factory=threading.Event)
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)  # workers that died of an error

    def stop(self) -> None:
        self.event.set()
        for callback in self.callbacks:
            callback()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("stopping", signal=signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)


def run_batcher(
    settings: Settings, stopper: Stopper, records: Recorder, topology: Topology = CONTRACT_TOPOLOGY
) -> None:
    """The consumer here; recording and job formation in ``records``, the recorder's process,
    which :func:`started_recorder` started. Closes it when the consumer stops."""
    p = settings.pipeline

    def form_jobs() -> None:
        records.form_jobs()
        if stopper.event.is_set():
            consumer.should_stop = True

    try:
        with connect(settings.amqp_url) as connection:
            consumer = BatchConsumer(
                connection,
                records.handle,
                on_idle=form_jobs,
                batch_size=p.batch_size,
                batch_wait=p.batch_wait,
                idle_interval=min(1.0, p.gathering_window / 2),
                topology=topology,
            )
            stopper.callbacks.append(lambda: setattr(consumer, "should_stop", True))
            log.info("worker_started", worker="batcher", queue=topology.batcher_queue.name)
            consumer.run_forever()
    finally:
        records.close()


def _loop(name: str, step: Callable[[], int], stopper: Stopper, idle: float) -> None:
    log.info("worker_started", worker=name)
    while not stopper.event.is_set():
        try:
            busy = step()
        except DatabaseUnavailable as e:
            log.warning("database_unavailable", worker=name, reason=str(e))
            stopper.event.wait(2.0)
            continue
        if not busy:
            stopper.event.wait(idle)
    log.info("worker_stopped", worker=name)


# How soon an idle poller looks again for a newly reserved job. Every job that waits here
# delays the next one by as much: the next createFeed token is counted from this job's call.
# (At 0.5 s the freshness benchmark's p99 went over its bound: 3.7 s against 3.1 s.)
POLLER_IDLE = 0.1


def run_poller(
    settings: Settings, store: EventStore, stopper: Stopper, gateway: GatewayFactory | None = None
) -> None:
    from marketsync.workers.poller import Poller

    poller = Poller(store, settings, gateway or gateways(settings))
    _loop("poller", poller.tick, stopper, idle=min(POLLER_IDLE, settings.pipeline.poll_interval))


def run_projector(settings: Settings, store: EventStore, stopper: Stopper) -> None:
    from marketsync.projections.views import Projector

    projector = Projector(store)
    _loop("projector", projector.run_once, stopper, idle=0.2)


def run_workers(
    settings: Settings,
    names: tuple[str, ...],
    stopper: Stopper,
    topology: Topology = CONTRACT_TOPOLOGY,
    gateway: GatewayFactory | None = None,
) -> list[threading.Thread]:
    """Start the named workers in threads of this process (``marketsync run``, the demo).

    What a worker needs is opened here, before any thread starts, so that a database that
    cannot be reached is raised to the caller (the command line says so in one line): the
    store for a worker that uses it in this process, and the batcher's recorder, which opens
    its own store (and migrates the schema) in its child process."""
    store = open_store(settings) if set(names) - {"batcher"} else None
    records = started_recorder(settings) if "batcher" in names else None
    targets: dict[str, Callable[[], None]] = {
        "batcher": lambda: run_batcher(settings, stopper, _opened(records), topology),
        "poller": lambda: run_poller(settings, _opened(store), stopper, gateway),
        "projector": lambda: run_projector(settings, _opened(store), stopper),
    }
    threads = []
    for name in names:
        thread = threading.Thread(
            target=_guarded(name, targets[name], stopper), name=name, daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def started_recorder(settings: Settings) -> Recorder:
    """The batcher's recorder, ready to record; what stops it from starting (an unreachable
    database, say) is raised here."""
    records = Recorder(settings, logs.current())
    try:
        records.start()
    except BaseException:
        records.close()
        raise
    return records


def _opened(resource: T | None) -> T:
    assert resource is not None, "run_workers opens what each named worker needs"
    return resource


def _guarded(name: str, target: Callable[[], None], stopper: Stopper) -> Callable[[], None]:
    def run() -> None:
        try:
            target()
        except Exception:
            log.exception("worker_crashed", worker=name)
            stopper.crashed.append(name)
            stopper.stop()
            raise

    return run
