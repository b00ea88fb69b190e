"""Engines for SQLite (embedded default) and PostgreSQL (shared by replicas), and migrations.

Writers take one lock for the whole transaction: ``BEGIN IMMEDIATE`` on SQLite, a
transaction-scoped advisory lock on PostgreSQL. That makes positions commit in order, so a
reader that has seen position P never later meets a new event below P, and it makes each
worker's read-decide-write step atomic across replicas.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_random_exponential

from marketsync.eventlog.errors import DatabaseUnavailable
from marketsync.eventlog.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

WRITE_LOCK_KEY = 0x6D61726B  # "mark"
MIGRATIONS = Path(__file__).with_name("migrations")
WAL_CHECKPOINT_PAGES = 10_000


@retry(
    retry=retry_if_exception_type(sqlite3.OperationalError),
    wait=wait_random_exponential(multiplier=0.05, max=1.0),
    stop=stop_after_delay(30),
    reraise=True,
)
def _use_wal(cursor: Any) -> None:
    """Switch a fresh file to WAL once. SQLite refuses at once (no busy wait) while another
    connection writes to a file not yet in WAL mode, so this waits and tries again."""
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 8 MiB of page cache instead of SQLite's 2: a batch of 2,000 changes touches more
    # pages than 2 MiB hold, and each one missed is read again (the batcher's handler
    # measured 10% faster; more gained nothing worth the memory).
    cursor.execute("PRAGMA cache_size=-8192")
    # A checkpoint (copying the WAL's pages into the database file, two fsyncs) once the
    # WAL holds 10,000 pages (40 MiB at SQLite's 4 KiB) instead of SQLite's 1,000. A batch
    # of 2,000 changes writes about 1,100 pages, so the default checkpointed after nearly
    # every commit, copying the same index and SKU pages again each time: the batcher's
    # handler alone measured 38 µs of CPU per event with the default and 32 with this.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.close()


# None for any value: an empty dictionary's get, a builtin, so each call costs no Python frame
# (a function of ours cost 1.7% of a replay partition's instructions, callgrind)
_NULL: Callable[[object], None] = dict[object, None]().get


def _bind_cheaply() -> None:
    """Make ``sqlite3`` bind None and bools without its slow search for an adapter.

    The module binds an int, float or str directly; anything else it first tries to adapt,
    and for None and bool it finds no adapter after looking for ``__adapt__`` and
    ``__conform__``, about 0.4 µs a value. A SKU row holds some 15 of them among its 44
    columns: a scratch row took 13 µs to insert, 8.6 with these adapters (9 with ints
    alone: 3). Registered adapters are found first. What is stored does not change: None
    is still NULL, and a bool its integer, as before. ``sqlite3`` keeps adapters for the
    whole process; registering them again is harmless."""
    sqlite3.register_adapter(type(None), _NULL)
    sqlite3.register_adapter(bool, int)


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("marketsync_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(url: str) -> Engine:
    """An engine for ``url``; nothing connects until the first use."""
    if url.startswith("sqlite"):
        _bind_cheaply()
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def create_scratch_engine(path: Path) -> Engine:
    """A throwaway SQLite file with every table, for a rebuild that is read whole, compared
    and deleted: the tables have the metadata's columns (which a test holds equal to the
    migrations) and types, but no index, not even the primary key's, and there is no
    journal and no fsync, since nothing in it has to survive a crash. Each makes writing
    a row cheaper: 500,000 SKU rows took 2.5 s into the tables with their primary key
    and 1.8 s without. The rebuild writes each row once (its rows come from dictionaries
    by key), so nothing is lost by not checking."""

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=OFF")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA page_size=16384")  # before the first table: fewer, fuller pages
        cursor.close()

    _bind_cheaply()
    engine = sa.create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", pragmas)
    bare = sa.MetaData()
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            columns = (sa.Column(c.name, c.type, nullable=c.nullable) for c in table.columns)
            connection.execute(sa.schema.CreateTable(sa.Table(table.name, bare, *columns)))
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def take_write_lock(connection: Connection) -> None:
    """Inside a write transaction: serialize with every other writer."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})


def alembic_config(engine: Engine) -> Config:
    # Alembic is imported only when the schema is behind (see migrate): it costs a process
    # 8 MB, and the batcher's recorder, which migrates at start, is a long-lived one.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def newest_revision() -> str:
    """The newest migration's revision, read from the file names (``0005_...py`` is
    ``"0005"``) without importing Alembic; a test holds it equal to Alembic's head."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*.py"))


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent, safe for concurrent starts).
    A schema that is already there, as on every start but the first after an upgrade, is
    left alone without importing Alembic."""
    try:
        if _revision(engine) != newest_revision():
            _upgrade(engine)
    except sa.exc.OperationalError as e:
        raise DatabaseUnavailable(str(e.orig)) from e


def _revision(engine: Engine) -> str | None:
    """The schema's revision as Alembic recorded it; None before the first migration."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        return None if version is None else str(version)


def _upgrade(engine: Engine) -> None:
    with engine.connect() as raw:
        connection = raw.execution_options(marketsync_write=True)  # BEGIN IMMEDIATE on SQLite
        with connection.begin():
            take_write_lock(connection)
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            from alembic import command

            command.upgrade(config, "head")
