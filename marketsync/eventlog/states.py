"""SQL-backed :class:`~marketsync.domain.fold.States`: a unit of work over the state tables.

Rows are loaded on first use (or in bulk through :meth:`SqlStates.prefetch`), changed in
memory by the fold, and written back in one batch by :meth:`SqlStates.flush`, inside the
caller's transaction.

SKU rows are the hot path (every storefront change rewrites one), so :func:`write_skus`
writes them as plain tuples through :mod:`marketsync.eventlog.bulk`, on SQLite only the
columns that changed.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from itertools import compress, islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from marketsync.domain.batching import job_kind
from marketsync.domain.fold import SkuKey
from marketsync.domain.jobs import JobState, JobStatus
from marketsync.domain.sku import SkuState, new_sku
from marketsync.eventlog import bulk

CHUNK = 500


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    """Row keys as plain ``str``: SQLAlchemy's are a ``str`` subclass, which makes keyword
    matching in a dataclass constructor several times slower (measured by the benchmark)."""
    return {str(key): value for key, value in row.items()}


def sku_from_row(row: Mapping[Any, Any]) -> SkuState:
    return SkuState(**{name: row[name] for name in SkuState._fields})


def sku_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """``table``'s columns in :class:`SkuState`'s field order: each row selected this way
    is one ``SkuState._make(row)``, the cheapest way to load a state."""
    return [table.c[name] for name in SkuState._fields]


def job_from_row(row: Mapping[Any, Any]) -> JobState:
    values = _plain(row)
    values["status"] = JobStatus(values["status"])
    return JobState(**values)


SKU_ROW_COLUMNS = (*SkuState._fields, "pending_kind")


def sku_values(state: SkuState) -> tuple[Any, ...]:
    """A SKU table's row for ``state``, in :data:`SKU_ROW_COLUMNS` order; ``pending_kind``
    is derived, for the batcher's readiness query."""
    return (*state, job_kind(state))


def state_row(state: SkuState | JobState) -> dict[str, Any]:
    if isinstance(state, SkuState):
        return dict(zip(SKU_ROW_COLUMNS, sku_values(state), strict=True))
    return {name: getattr(state, name) for name in state.__dataclass_fields__}


_KEY_COLUMNS = 3  # account, marketplace, sku: SkuState's first fields, the primary key
_STATE_INDEXES = tuple(range(len(SkuState._fields)))
_PENDING_KIND = SKU_ROW_COLUMNS.index("pending_kind")  # derived: written with any change

Columns = tuple[int, ...]  # indexes into SKU_ROW_COLUMNS


def changed_columns(before: SkuState, after: SkuState) -> Columns:
    """The row's columns that differ between two states of one SKU (none if they are equal)."""
    changed = tuple(compress(_STATE_INDEXES, map(operator.ne, before, after)))  # 2 µs, in C
    return (*changed, _PENDING_KIND) if changed else ()


def write_skus(
    connection: Connection, table: sa.Table, changes: Iterable[tuple[Columns | None, SkuState]]
) -> None:
    """Write each changed SKU's new state; ``(columns, new)``, where ``columns`` are the
    ones that differ from the row the table holds, or None to write the row whole (there
    is none yet, or it is not known, or the database is PostgreSQL).

    On SQLite a stored row is updated in only the columns that changed (a storefront change
    touches about 8 of 44): binding a whole row's 44 values cost as much as the rest of its
    write (measured on 50,000 changes: 16.5 µs a row as an upsert, 10.5 as a narrow UPDATE).
    Rows are grouped by the columns they change, one UPDATE statement per group. A row the
    caller believed stored but the UPDATE did not find is written whole, so a wrong belief
    costs time, never a row. PostgreSQL copies whole rows into one upsert (see
    :func:`upsert_skus`), where narrowing saves nothing on the client.
    """
    if connection.dialect.name == "postgresql":
        upsert_skus(connection, table, (new for _columns, new in changes))
        return
    whole: list[tuple[Any, ...]] = []
    narrow: dict[Columns, list[tuple[Any, ...]]] = {}
    for columns, new in changes:
        if columns is None:
            whole.append(sku_values(new))
        elif columns:
            narrow.setdefault(columns, []).append(sku_values(new))
    for changed, rows in narrow.items():
        names = [SKU_ROW_COLUMNS[i] for i in changed]
        params = [(*(row[i] for i in changed), *row[:_KEY_COLUMNS]) for row in rows]
        if bulk.update(connection, table, names, params) != len(rows):
            whole += rows
    bulk.upsert(connection, table, SKU_ROW_COLUMNS, whole)


def upsert_skus(connection: Connection, table: sa.Table, states: Iterable[SkuState]) -> None:
    """Insert or replace the rows of ``states`` in a SKU table (``sku_state``, ``view_pending``)."""
    bulk.upsert(connection, table, SKU_ROW_COLUMNS, [sku_values(s) for s in states])


class _Quiet:
    """The SKU rows whose ``fields`` all hold their defaults (None or False), and how to
    write them with those defaults as SQL literals (see :func:`insert_skus`)."""

    def __init__(self, fields: Sequence[str]) -> None:
        indexes = [SkuState._fields.index(name) for name in fields]
        self.fields = operator.itemgetter(*indexes)  # in C: a tuple of those fields
        self.defaults = tuple(SkuState._field_defaults[name] for name in fields)
        assert all(d is None or d is False for d in self.defaults), "a literal for each"
        others = [i for i in _STATE_INDEXES if i not in indexes]
        self.others = operator.itemgetter(*others)
        self.columns = (*(SKU_ROW_COLUMNS[i] for i in others), "pending_kind")
        self.constants: bulk.Constants = tuple(zip(fields, self.defaults, strict=True))

    def holds(self, state: SkuState) -> bool:
        # a field holding its default is that very object (None, False): identity settles it
        return bool(self.fields(state) == self.defaults)

    def row(self, state: SkuState) -> tuple[Any, ...]:
        """``state``'s row in :attr:`columns` order."""
        return (*self.others(state), job_kind(state))


# A SKU at rest (in no job, without an error, neither deleted nor owed a resend), and one
# at rest that Amazon has never accepted a value of nor linked to an ASIN (a SKU the
# storefront has only just sent): each None or False is the field's default.
_AT_REST_FIELDS = (
    "job_id",
    "job_action",
    "job_quantity",
    "job_price",
    "job_currency",
    "last_error_code",
    "last_error_message",
    "deleted",
    "resend_owed",
)
_NEVER_SENT_FIELDS = (
    *_AT_REST_FIELDS,
    "acked_quantity",
    "acked_price",
    "acked_currency",
    "asin",
    "condition",
    "linked_since",
)
_AT_REST, _NEVER_SENT = _Quiet(_AT_REST_FIELDS), _Quiet(_NEVER_SENT_FIELDS)


def insert_skus(
    connection: Connection, table: sa.Table, states: Iterable[SkuState], chunk: int = 10_000
) -> None:
    """Insert the rows of ``states`` into an empty SKU table (a rebuild's scratch), ``chunk``
    at a time: a replay partition's 500,000 rows made at once held 190 MB more.

    On SQLite, ``sqlite3`` binds each None and bool through a search for an adapter, about
    1,200 instructions, more than binding and storing any other value, and a SKU's row
    holds up to 15 of them. So a row at rest, and one never sent, goes in through an
    INSERT that carries those fields' None and False as SQL literals: 50,000 rows of new
    SKUs took 2,754 million instructions to write whole, 1,884 million this way
    (callgrind). Any other row is written whole.
    """
    states = iter(states)
    on_sqlite = connection.dialect.name == "sqlite"
    while batch := list(islice(states, chunk)):
        if not on_sqlite:
            bulk.append(connection, table, SKU_ROW_COLUMNS, [sku_values(s) for s in batch])
            continue
        never_sent: list[tuple[Any, ...]] = []
        at_rest: list[tuple[Any, ...]] = []
        whole: list[tuple[Any, ...]] = []
        for state in batch:
            if not _AT_REST.holds(state):
                whole.append(sku_values(state))
            elif _NEVER_SENT.holds(state):
                never_sent.append(_NEVER_SENT.row(state))
            else:
                at_rest.append(_AT_REST.row(state))
        for quiet, rows in ((_NEVER_SENT, never_sent), (_AT_REST, at_rest)):
            bulk.append(connection, table, quiet.columns, rows, quiet.constants)
        bulk.append(connection, table, SKU_ROW_COLUMNS, whole)


def upsert(connection: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert or replace ``rows`` by primary key, in one statement per chunk."""
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys},
    )
    for start in range(0, len(rows), CHUNK * 4):
        connection.execute(statement, rows[start : start + CHUNK * 4])


def select_skus(
    table: sa.Table, account: str, marketplace: str, skus: list[str], dialect: str
) -> sa.Select[Any]:
    """The rows of ``skus`` (of one account and marketplace) in a SKU table, in
    :func:`sku_columns` order.

    On PostgreSQL each SKU is one probe of the primary key: ``unnest`` of one array
    parameter, joined laterally to a one-row lookup (its ``LIMIT 1`` keeps the planner from
    turning the join into a scan). ``sku = ANY(array)`` took 1.5 ms for 500 SKUs among
    100,000 once PostgreSQL had statistics, but before (a new table, until autovacuum's
    first ANALYZE) it was planned as a filter over every row of the account: 12 ms, and
    growing with the table. The probes take about 2 ms either way. SQLite plans
    ``sku IN (...)`` as probes of the primary key on its own."""
    t = table
    mine = (t.c.account == account, t.c.marketplace == marketplace)
    if dialect != "postgresql":
        return sa.select(*sku_columns(t)).where(*mine, t.c.sku.in_(skus))
    array = sa.literal(skus, postgresql.ARRAY(sa.String))
    wanted = sa.func.unnest(array).table_valued("sku").render_derived(name="wanted")
    row = sa.select(*sku_columns(t)).where(*mine, t.c.sku == wanted.c.sku).limit(1).lateral()
    return sa.select(*row.c).select_from(wanted).join(row, sa.true())


class SqlStates:
    def __init__(
        self,
        connection: Connection,
        skus: sa.Table,
        jobs: sa.Table,
        cache: dict[SkuKey, SkuState] | None = None,
    ) -> None:
        """``cache``: SKU states known to equal their rows (see ``store.WarmStates``)."""
        self._connection = connection
        self._skus_table = skus
        self._jobs_table = jobs
        self._skus: dict[SkuKey, SkuState] = {} if cache is None else cache
        self._jobs: dict[int, JobState | None] = {}
        # changed SKUs, in the order first changed: the columns that differ from the row
        # (None: no row yet, or not known). Only these small tuples are kept, not the
        # states as first read: a reserved job changes 25,000 SKUs in one transaction.
        self._dirty_skus: dict[SkuKey, Columns | None] = {}
        self._column_sets: dict[Columns, Columns] = {}  # one tuple per distinct set
        self._narrow = connection.dialect.name != "postgresql"  # see write_skus
        self._unstored: set[SkuKey] = set()  # cached states prefetch made up: no row
        self._dirty_jobs: set[int] = set()

    # --- SKUs ---------------------------------------------------------------------------

    def prefetch(self, keys: Iterable[SkuKey]) -> None:
        """Load the rows of ``keys`` not cached yet, one ``sku IN (...)`` query per account,
        marketplace and chunk (a composite-key IN plans far worse on PostgreSQL)."""
        by_market: dict[tuple[str, str], list[str]] = {}
        for key in dict.fromkeys(k for k in keys if k not in self._skus):
            by_market.setdefault((key[0], key[1]), []).append(key[2])
        t = self._skus_table
        dialect = self._connection.dialect.name
        for (account, marketplace), skus in by_market.items():
            for start in range(0, len(skus), CHUNK):
                chunk = skus[start : start + CHUNK]
                query = select_skus(t, account, marketplace, chunk, dialect)
                for row in self._connection.execute(query):
                    state = SkuState._make(row)
                    self._skus[state.key] = state
                for sku in chunk:
                    key = (account, marketplace, sku)
                    if key not in self._skus:
                        self._skus[key] = new_sku(account, marketplace, sku)
                        self._unstored.add(key)

    def remember(self, states: Iterable[SkuState]) -> None:
        """Cache rows the caller already read (not marked changed)."""
        for state in states:
            self._skus.setdefault(state.key, state)

    def sku(self, key: SkuKey) -> SkuState:
        if key not in self._skus:
            self.prefetch([key])
        return self._skus[key]

    def skus_in_job(self, job_id: int) -> list[SkuState]:
        t = self._skus_table
        query = sa.select(*sku_columns(t)).where(t.c.job_id == job_id)
        for row in self._connection.execute(query):
            state = SkuState._make(row)
            self._skus.setdefault(state.key, state)
        return sorted((s for s in self._skus.values() if s.job_id == job_id), key=lambda s: s.key)

    def put_sku(self, state: SkuState) -> None:
        key = state.key
        before = self._skus.get(key)
        columns = self._dirty_skus.get(key, ())
        if columns is not None:
            if before is None or key in self._unstored or not self._narrow:
                columns = None
            elif changed := changed_columns(before, state):
                # changed since the last put, or since the row: both, since the row
                merged = tuple(sorted({*columns, *changed})) if columns else changed
                columns = self._column_sets.setdefault(merged, merged)
        self._dirty_skus[key] = columns
        self._skus[key] = state

    # --- jobs -----------------------------------------------------------------------------

    def job(self, job_id: int) -> JobState | None:
        if job_id not in self._jobs:
            t = self._jobs_table
            row = self._connection.execute(sa.select(t).where(t.c.job_id == job_id)).mappings()
            found = row.first()
            self._jobs[job_id] = job_from_row(found) if found else None
        return self._jobs[job_id]

    def put_job(self, state: JobState) -> None:
        self._jobs[state.job_id] = state
        self._dirty_jobs.add(state.job_id)

    def max_job_id(self) -> int:
        t = self._jobs_table
        stored = self._connection.execute(sa.select(sa.func.max(t.c.job_id))).scalar() or 0
        cached = max((j for j, s in self._jobs.items() if s is not None), default=0)
        return max(int(stored), cached)

    # --- write back -------------------------------------------------------------------------

    def flush(self) -> None:
        skus = self._skus
        changes = [(columns, skus[key]) for key, columns in self._dirty_skus.items()]
        write_skus(self._connection, self._skus_table, changes)
        jobs = [self._jobs[j] for j in sorted(self._dirty_jobs)]
        upsert(self._connection, self._jobs_table, [state_row(j) for j in jobs if j])
        self._dirty_skus.clear()
        self._unstored.clear()
        self._dirty_jobs.clear()
