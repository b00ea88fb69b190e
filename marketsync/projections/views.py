"""Read models built from the log: the job list, the pending queue, each job's log.

:class:`Projector` folds events after its checkpoint into ``view_jobs`` and
``view_pending`` with the same fold the workers use, and moves the checkpoint in the same
transaction, so a crash replays nothing twice and skips nothing. The job log is the job's
own event stream. The query functions here are what the CLI (and later the web page) read.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from marketsync.domain.events import job_stream
from marketsync.domain.fold import fold
from marketsync.domain.jobs import JobState
from marketsync.domain.sku import SkuState
from marketsync.eventlog import tables
from marketsync.eventlog.errors import DatabaseUnavailable
from marketsync.eventlog.states import SqlStates, job_from_row, sku_from_row, upsert
from marketsync.eventlog.store import EventStore, RecordedEvent, read_events, read_stream

VIEWS_CHECKPOINT = "views"


PROJECTOR_LOCK_KEY = 0x76696577  # "view": one projector folds at a time


def checkpoint(connection: Connection, name: str) -> int:
    t = tables.checkpoints
    query = sa.select(t.c.position).where(t.c.name == name)
    return int(connection.execute(query).scalar() or 0)


class Projector:
    def __init__(self, store: EventStore, batch: int = 2000) -> None:
        self.store = store
        self.batch = batch

    def run_once(self) -> int:
        """Fold the next batch of events into the views; how many were folded."""
        try:
            return self._fold_next()
        except sa.exc.OperationalError as e:
            raise DatabaseUnavailable(str(e.orig)) from e

    def _fold_next(self) -> int:
        with self.store.engine.connect() as raw:
            connection = raw.execution_options(marketsync_write=True)
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PROJECTOR_LOCK_KEY}
                    )
                position = checkpoint(connection, VIEWS_CHECKPOINT)
                batch = read_events(connection, position, self.batch)
                if not batch:
                    return 0
                states = SqlStates(connection, tables.view_pending, tables.view_jobs)
                for recorded in batch:
                    fold(states, recorded.event)
                states.flush()
                upsert(
                    connection,
                    tables.checkpoints,
                    [{"name": VIEWS_CHECKPOINT, "position": batch[-1].position}],
                )
        return len(batch)

    def catch_up(self) -> int:
        total = 0
        while folded := self.run_once():
            total += folded
        return total


# --- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobFilter:
    account: str | None = None
    status: str | None = None
    limit: int = 200


def list_jobs(connection: Connection, where: JobFilter) -> list[JobState]:
    t = tables.view_jobs
    query = sa.select(t).order_by(t.c.job_id.desc()).limit(where.limit)
    if where.account:
        query = query.where(t.c.account == where.account)
    if where.status:
        query = query.where(t.c.status == where.status)
    return [job_from_row(r) for r in connection.execute(query).mappings()]


def get_job(connection: Connection, job_id: int) -> JobState | None:
    t = tables.view_jobs
    row = connection.execute(sa.select(t).where(t.c.job_id == job_id)).mappings().first()
    return job_from_row(row) if row else None


def job_log(connection: Connection, job_id: int) -> list[RecordedEvent]:
    return read_stream(connection, job_stream(job_id))


def pending(connection: Connection, account: str | None = None) -> list[SkuState]:
    """SKUs Amazon does not have in their newest state yet (pending or in a job)."""
    t = tables.view_pending
    query = (
        sa.select(t)
        .where(sa.or_(t.c.pending_since.is_not(None), t.c.job_id.is_not(None)))
        .order_by(t.c.account, t.c.marketplace, t.c.pending_since, t.c.sku)
    )
    if account:
        query = query.where(t.c.account == account)
    return [sku_from_row(r) for r in connection.execute(query).mappings()]


def listings(connection: Connection, account: str | None = None) -> list[SkuState]:
    """Every SKU the pipeline knows, with what Amazon last accepted for it."""
    t = tables.view_pending
    query = sa.select(t).order_by(t.c.account, t.c.marketplace, t.c.sku)
    if account:
        query = query.where(t.c.account == account)
    return [sku_from_row(r) for r in connection.execute(query).mappings()]


def views_position(connection: Connection) -> int:
    return checkpoint(connection, VIEWS_CHECKPOINT)
