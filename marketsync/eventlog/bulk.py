"""Bulk writes of the hot path: rows as plain tuples, by the cheapest route each driver has.

Every storefront change appends one event and rewrites one SKU row, so these two writes
decide the batcher's throughput. SQLAlchemy's per-row parameter processing cost as much as
the fold itself, so both go straight to the driver, inside the caller's transaction:

============ ============================== =================================================
             SQLite                         PostgreSQL
============ ============================== =================================================
append       ``executemany`` of INSERT      ``COPY … FROM STDIN``
upsert       ``executemany`` of INSERT …    ``COPY`` into a temporary staging table, then one
             ON CONFLICT DO UPDATE          INSERT … SELECT … ON CONFLICT DO UPDATE
update       ``executemany`` of UPDATE …    (not used: ``states.write_skus`` upserts there)
             SET the given columns
============ ============================== =================================================

Measured on 2,000 rows (PostgreSQL 15, 2 cores): an event 10.8 µs by ``executemany``, 5.9
by COPY; a SKU row 19.3 µs by ``executemany`` (37 through SQLAlchemy), 8.9 by COPY and
staging. On SQLite a SKU row takes 10 µs instead of SQLAlchemy's 22.

Values must already be what the column stores: JSON columns take encoded text.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

Row = tuple[Any, ...]


def append(
    connection: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name == "postgresql":
        _copy(connection, _quoted(dialect, table.name), _column_list(dialect, columns), rows)
        return
    connection.exec_driver_sql(_insert_sql(dialect, table.name, tuple(columns)), rows)


def upsert(
    connection: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]
) -> None:
    """Insert ``rows`` into ``table``, replacing every row with the same primary key."""
    if not rows:
        return
    dialect = connection.dialect
    insert = _insert_sql(dialect, table.name, tuple(columns))
    conflict = _on_conflict(dialect, table, tuple(columns))
    if dialect.name != "postgresql":
        connection.exec_driver_sql(f"{insert} {conflict}", rows)
        return
    staging = _quoted(dialect, f"staging_{table.name}")
    names = _column_list(dialect, columns)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
        f"(LIKE {_quoted(dialect, table.name)}) ON COMMIT DELETE ROWS"
    )
    _copy(connection, staging, names, rows)
    connection.exec_driver_sql(
        f"INSERT INTO {_quoted(dialect, table.name)} ({names}) "
        f"SELECT {names} FROM {staging} {conflict}"
    )
    connection.exec_driver_sql(f"DELETE FROM {staging}")  # for a second upsert in this transaction


def update(
    connection: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]
) -> int:
    """``UPDATE table SET columns WHERE`` primary key, once per row: each row holds the
    values of ``columns``, then the primary key's. How many rows were found and updated."""
    if not rows:
        return 0
    dialect = connection.dialect
    return connection.exec_driver_sql(_update_sql(dialect, table, tuple(columns)), rows).rowcount


def _copy(connection: Connection, target: str, names: str, rows: Sequence[Row]) -> None:
    """COPY through psycopg's own cursor, in the same transaction; its errors are raised as
    SQLAlchemy's (IntegrityError, OperationalError, ...) like every other statement's."""
    statement = f"COPY {target} ({names}) FROM STDIN"
    driver: Any = connection.connection.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as e:
        raise sa.exc.DBAPIError.instance(statement, None, e, dbapi.Error) from e


def _quoted(dialect: sa.Dialect, name: str) -> str:
    return str(dialect.identifier_preparer.quote(name))


def _column_list(dialect: sa.Dialect, columns: Sequence[str]) -> str:
    return ", ".join(_quoted(dialect, c) for c in columns)


@functools.cache
def _insert_sql(dialect: sa.Dialect, table: str, columns: tuple[str, ...]) -> str:
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {_quoted(dialect, table)} ({_column_list(dialect, columns)}) "
        f"VALUES ({', '.join(marker for _ in columns)})"
    )


@functools.cache
def _update_sql(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> str:
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    keys = [c.name for c in table.primary_key.columns]
    assignments = ", ".join(f"{_quoted(dialect, c)} = {marker}" for c in columns)
    where = " AND ".join(f"{_quoted(dialect, k)} = {marker}" for k in keys)
    return f"UPDATE {_quoted(dialect, table.name)} SET {assignments} WHERE {where}"


@functools.cache
def _on_conflict(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> str:
    keys = [c.name for c in table.primary_key.columns]
    updates = ", ".join(
        f"{_quoted(dialect, c)} = excluded.{_quoted(dialect, c)}" for c in columns if c not in keys
    )
    return f"ON CONFLICT ({_column_list(dialect, keys)}) DO UPDATE SET {updates}"
