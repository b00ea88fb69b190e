"""Replay: rebuild every view from position 0, beside a raw read of the same log.

* Reference: the stdlib ``sqlite3`` module reads every event row in position order and
  decodes its JSON data, nothing more: the floor under any replay on SQLite.
* Rebuild: what the auditor does (:func:`marketsync.projections.replay.rebuild`): read the
  log, fold every event with the one fold into in-memory states, and write the rebuilt
  views (pending queue and job list) into fresh SQLite databases; a long log in parallel,
  one process per core, each with its share of the SKUs.
* Beside them, for the record: the live projector (:class:`Projector`, SQL views updated
  batch by batch) over the first events of the same log.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from marketsync.bench.report import Figure
from marketsync.eventlog.database import create_engine, migrate
from marketsync.eventlog.store import EventStore, head
from marketsync.projections.replay import rebuild
from marketsync.projections.views import Projector

FETCH = 10_000
TARGET = 100_000.0  # events a second on SQLite


@dataclass(frozen=True, slots=True)
class Replayed:
    events: int
    rate: float  # events a second: read, fold, write the views
    reference_rate: float  # events a second: read and decode, nothing else
    partitions: int  # processes, each folding and writing its share of the SKUs
    skus: int
    projector_rate: float
    projector_events: int


def raw_read(path: Path, up_to: int) -> float:
    """Seconds to read and JSON-decode events 1..``up_to`` with plain ``sqlite3``."""
    connection = sqlite3.connect(path)
    try:
        started = time.perf_counter()
        cursor = connection.execute(
            "SELECT position, type, data, metadata FROM events WHERE position <= ? "
            "ORDER BY position",
            (up_to,),
        )
        while rows := cursor.fetchmany(FETCH):
            for _position, _type, data, _metadata in rows:
                json.loads(data)
        return time.perf_counter() - started
    finally:
        connection.close()


def _rebuild(store: EventStore, up_to: int, scratch: Path) -> tuple[float, int, int]:
    """(seconds, partitions, SKUs) to rebuild the views of events 1..``up_to`` into
    scratch databases in the directory ``scratch``."""
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    paths = rebuild(store, up_to, 0, scratch)
    seconds = time.perf_counter() - started
    skus = 0
    for path in paths:
        with sqlite3.connect(path) as connection:
            skus += connection.execute("SELECT count(*) FROM view_pending").fetchone()[0]
        path.unlink()
    return seconds, len(paths), skus


def _projector(database_url: str, events: int) -> float:
    """Events a second through the live projector, over the first ``events`` events."""
    engine = create_engine(database_url)
    projector = Projector(EventStore(engine))
    started = time.perf_counter()
    folded = 0
    while folded < events:
        done = projector.run_once()
        if not done:
            break
        folded += done
    seconds = time.perf_counter() - started
    engine.dispose()
    return folded / seconds if seconds else 0.0


def measure(path: Path, events: int, scratch: Path, projector_events: int) -> Replayed:
    """Replay events 1..``events`` of the SQLite log at ``path``."""
    database_url = f"sqlite:///{path}"
    engine = create_engine(database_url)
    migrate(engine)
    store = EventStore(engine)
    with store.read() as connection:
        up_to = min(events, head(connection))
    reference = raw_read(path, up_to)
    seconds, partitions, skus = _rebuild(store, up_to, scratch)
    engine.dispose()
    projector_rate = _projector(database_url, min(projector_events, up_to))
    return Replayed(
        events=up_to,
        rate=up_to / seconds,
        reference_rate=up_to / reference,
        partitions=partitions,
        skus=skus,
        projector_rate=projector_rate,
        projector_events=min(projector_events, up_to),
    )


def figure(result: Replayed) -> Figure:
    return Figure(
        "replay_sqlite",
        result.rate,
        "events/s",
        result.reference_rate,
        "raw read",
        f">= {TARGET:,.0f} ev/s",
        result.rate >= TARGET,
        {k: getattr(result, k) for k in result.__dataclass_fields__},
    )
