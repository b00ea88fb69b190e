"""The event store: append events and the worker state they change, in one transaction.

A :class:`WriteTx` is the only way to change worker state: :meth:`WriteTx.record` folds an
event into the cached state (the same fold replay uses), and on commit the events and the
changed rows are written together under the store-wide write lock.

Errors::

    DatabaseUnavailable      (database.py) connection lost or refused: retry the whole step
    DuplicateEvent           an event id or stream version that is already in the log
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from marketsync import jsoncodec
from marketsync.domain.events import SCHEMA_VERSION, Event, decode, new_event_id, stream_shard
from marketsync.domain.fold import SkuKey, fold, stream_version
from marketsync.domain.sku import SkuState
from marketsync.eventlog import bulk, tables
from marketsync.eventlog.database import take_write_lock
from marketsync.eventlog.errors import DatabaseUnavailable
from marketsync.eventlog.states import SqlStates


class DuplicateEvent(Exception):
    """The log already holds this event id or stream version."""


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    position: int
    event_id: str
    stream: str
    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: float
    shard: int | None = None

    @property
    def event(self) -> Event:
        return decode(self.type, self.data)


APPEND_COLUMNS = (
    "event_id",
    "stream",
    "version",
    "type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
    "shard",
)


@dataclass
class WriteTx:
    connection: Connection
    states: SqlStates
    _rows: list[tuple[Any, ...]] = field(default_factory=list)

    def record(
        self, event: Event, *, event_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        """Fold ``event`` into the state and queue it for the log."""
        fold(self.states, event)
        stream, version = stream_version(self.states, event)
        self._rows.append(
            (  # in APPEND_COLUMNS order
                event_id or new_event_id(),
                stream,
                version,
                event.type_name,
                SCHEMA_VERSION,
                jsoncodec.dumps(event.fields()),
                jsoncodec.dumps(metadata or {}),
                time.time(),
                stream_shard(stream),
            )
        )

    def known_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        t = tables.events
        found: set[str] = set()
        for start in range(0, len(event_ids), 500):
            chunk = list(event_ids[start : start + 500])
            query = sa.select(t.c.event_id).where(t.c.event_id.in_(chunk))
            found.update(self.connection.execute(query).scalars())
        return found

    def next_job_id(self) -> int:
        return self.states.max_job_id() + 1

    def flush(self) -> None:
        if self._rows:
            bulk.append(self.connection, tables.events, APPEND_COLUMNS, self._rows)
            self._rows.clear()
        self.states.flush()


class WarmStates:
    """The SKU states one writer keeps from one of its transactions to the next.

    Worker state only ever changes together with an appended event, under the store-wide
    write lock. So while the log's head is where this writer's own last commit left it, no
    one else has changed a row, and the kept states are exactly what the table holds: the
    next transaction need not read them again. Any other head, a failed transaction, or
    more than ``limit`` states, and it starts empty.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self.head: int | None = None
        self.skus: dict[SkuKey, SkuState] = {}

    def clear(self) -> None:
        self.head = None
        self.skus.clear()


class EventStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def write(self, warm: WarmStates | None = None) -> Iterator[WriteTx]:
        """One atomic step: events appended and worker state changed together, or neither.

        ``warm``: SKU states kept from this writer's last transaction, used while valid."""
        try:
            with self.engine.connect() as raw:
                connection = raw.execution_options(marketsync_write=True)
                with connection.begin():
                    take_write_lock(connection)
                    cache = None
                    if warm is not None:
                        if warm.head is None or warm.head != head(connection):
                            warm.clear()
                        cache = warm.skus
                    states = SqlStates(connection, **tables.STATE_TABLES, cache=cache)
                    tx = WriteTx(connection, states)
                    yield tx
                    tx.flush()
                    if warm is not None:
                        warm.head = head(connection)
        except BaseException as e:
            if warm is not None:
                warm.clear()  # what it holds may not have been committed
            if isinstance(e, sa.exc.IntegrityError):
                raise DuplicateEvent(str(e.orig)) from e
            if isinstance(e, sa.exc.OperationalError):
                raise DatabaseUnavailable(str(e.orig)) from e
            raise
        if warm is not None and len(warm.skus) > warm.limit:
            warm.clear()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot on both databases."""
        try:
            with self.engine.connect() as connection, connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    )
                yield connection
        except sa.exc.OperationalError as e:
            raise DatabaseUnavailable(str(e.orig)) from e


def read_events(
    connection: Connection, after: int, limit: int, up_to: int | None = None
) -> list[RecordedEvent]:
    t = tables.events
    query = sa.select(t).where(t.c.position > after).order_by(t.c.position).limit(limit)
    if up_to is not None:
        query = query.where(t.c.position <= up_to)
    return [
        RecordedEvent(**{str(k): v for k, v in row.items()})
        for row in connection.execute(query).mappings()
    ]


def read_stream(connection: Connection, stream: str) -> list[RecordedEvent]:
    t = tables.events
    query = sa.select(t).where(t.c.stream == stream).order_by(t.c.version)
    return [
        RecordedEvent(**{str(k): v for k, v in row.items()})
        for row in connection.execute(query).mappings()
    ]


def head(connection: Connection) -> int:
    value = connection.execute(sa.select(sa.func.max(tables.events.c.position))).scalar()
    return int(value or 0)
