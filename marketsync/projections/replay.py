"""The auditor: rebuild every view and all worker state from position 0, and compare.

:func:`verify` folds the whole log in memory with the one fold everything uses, writes the
result into a scratch SQLite database, and compares it row by row with the live tables read
in one consistent snapshot: the views as of their checkpoint, the worker state as of the
log's head. Any difference is reported field by field.
"""

from __future__ import annotations

import gc
import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from marketsync.domain.events import decode
from marketsync.domain.fold import fold
from marketsync.domain.memory_states import MemoryStates
from marketsync.eventlog import tables
from marketsync.eventlog.database import create_engine, migrate
from marketsync.eventlog.states import state_row, upsert, upsert_skus
from marketsync.eventlog.store import EventStore, head
from marketsync.projections.views import Projector, views_position

CHUNK = 10_000
Rows = dict[tuple[Any, ...], dict[str, Any]]


def replay(connection: Connection, states: MemoryStates, after: int, up_to: int) -> int:
    """Fold events in (after, up_to] into ``states``; the number folded.

    Reads only what the fold needs (position, type, data) through the driver, and decodes
    the JSON itself: SQLAlchemy's per-row result processing cost as much as the fold.
    The cyclic garbage collector is paused meanwhile: the fold allocates millions of
    short-lived tuples and creates no cycles.
    """
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    query = (
        f"SELECT position, type, data FROM {tables.events.name}"
        f" WHERE position > {marker} AND position <= {marker} ORDER BY position LIMIT {marker}"
    )
    folded = 0
    with _gc_paused():
        while after < up_to:
            rows = connection.exec_driver_sql(query, (after, up_to, CHUNK)).all()
            if not rows:
                break
            for _position, type_name, data in rows:
                fold(states, decode(type_name, json.loads(data) if isinstance(data, str) else data))
            after = rows[-1][0]
            folded += len(rows)
    return folded


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rows(connection: Connection, table: sa.Table) -> Rows:
    keys = [c.name for c in table.primary_key.columns]
    return {
        tuple(row[k] for k in keys): dict(row)
        for row in connection.execute(sa.select(table)).mappings()
    }


def write_scratch(path: Path, views: MemoryStates, workers: MemoryStates) -> None:
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.begin() as connection:
        for state, names in ((views, tables.VIEW_TABLES), (workers, tables.STATE_TABLES)):
            upsert_skus(connection, names["skus"], state.skus.values())
            upsert(connection, names["jobs"], [state_row(j) for j in state.jobs.values()])
    engine.dispose()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) < 1e-6
    return bool(a == b)


def diff_rows(name: str, live: Rows, rebuilt: Rows, limit: int = 50) -> list[str]:
    lines: list[str] = []
    for key in sorted(set(live) | set(rebuilt), key=repr):
        label = f"{name} {'/'.join(map(str, key))}"
        if key not in rebuilt:
            lines.append(f"{label}: live has it, replay does not")
        elif key not in live:
            lines.append(f"{label}: replay has it, live does not")
        else:
            lines.extend(
                f"{label}: {column} live={live[key][column]!r} replay={rebuilt[key][column]!r}"
                for column in live[key]
                if not _same(live[key][column], rebuilt[key][column])
            )
        if len(lines) >= limit:
            return [*lines[:limit], f"… (stopped after {limit} differences)"]
    return lines


@dataclass
class Verdict:
    events: int
    views_position: int
    scratch: Path
    differences: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


def verify(store: EventStore, scratch_dir: Path | None = None) -> Verdict:
    """Catch the views up, then rebuild everything from position 0 and compare."""
    Projector(store).catch_up()
    scratch = Path(tempfile.mkdtemp(prefix="marketsync-replay-", dir=scratch_dir)) / "replay.db"
    views, workers = MemoryStates(), MemoryStates()
    with store.read() as connection:
        log_head, view_head = head(connection), views_position(connection)
        live = {t.name: _rows(connection, t) for t in _all_tables()}
        replay(connection, views, 0, view_head)
        replay(connection, workers, 0, log_head)
    write_scratch(scratch, views, workers)
    rebuilt_engine = create_engine(f"sqlite:///{scratch}")
    with rebuilt_engine.connect() as connection:
        rebuilt = {t.name: _rows(connection, t) for t in _all_tables()}
    rebuilt_engine.dispose()
    differences = [line for name in live for line in diff_rows(name, live[name], rebuilt[name])]
    return Verdict(
        events=log_head, views_position=view_head, scratch=scratch, differences=differences
    )


def _all_tables() -> Iterable[sa.Table]:
    return (*tables.STATE_TABLES.values(), *tables.VIEW_TABLES.values())
