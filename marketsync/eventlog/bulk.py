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

COPY sends a table's rows in PostgreSQL's binary format when every column is a number, a
boolean or text (the SKU tables): the client then formats no number as text, and a SKU
row cost it 1 µs instead of 5 (50,000 rows: 0.05 s of client CPU, 0.25 in text). Rows with
JSON (the events) go as text.

Values must already be what the column stores: JSON columns take encoded text.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

Row = tuple[Any, ...]
Constants = tuple[tuple[str, bool | None], ...]
_LITERALS = {None: "NULL", False: "0", True: "1"}


def append(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Row],
    constants: Constants = (),
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; on SQLite, ``constants``
    (column and value, None or a bool) are the same in every row and written into the
    statement as SQL literals instead of being bound with each row."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name == "postgresql":
        if constants:
            raise ValueError("constants are for SQLite's INSERT only")
        names, binary = _column_list(dialect, columns), _binary(table, tuple(columns))
        _copy(connection, _quoted(dialect, table.name), names, rows, binary)
        return
    connection.exec_driver_sql(_insert_sql(dialect, table.name, tuple(columns), constants), rows)


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
    _copy(connection, staging, names, rows, _binary(table, tuple(columns)))
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


def _copy(
    connection: Connection,
    target: str,
    names: str,
    rows: Sequence[Row],
    binary: tuple[str, ...] | None,
) -> None:
    """COPY through psycopg's own cursor, in the same transaction: in binary format when
    ``binary`` names each column's type, else as text. Its errors are raised as SQLAlchemy's
    (IntegrityError, OperationalError, ...) like every other statement's."""
    statement = f"COPY {target} ({names}) FROM STDIN"
    if binary is not None:
        statement += " (FORMAT BINARY)"
    driver: Any = connection.connection.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            if binary is not None:
                copy.set_types(binary)
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as e:
        raise sa.exc.DBAPIError.instance(statement, None, e, dbapi.Error) from e


# PostgreSQL's type for each SQLAlchemy type whose values psycopg can send in binary format.
# BigInteger and SmallInteger before Integer, of which they are subclasses; text's binary
# format is also varchar's.
_BINARY_TYPES: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.BigInteger, "int8"),
    (sa.SmallInteger, "int2"),
    (sa.Integer, "int4"),
    (sa.Float, "float8"),
    (sa.Boolean, "bool"),
    (sa.String, "text"),
)


@functools.cache
def _binary(table: sa.Table, columns: tuple[str, ...]) -> tuple[str, ...] | None:
    """The PostgreSQL types to COPY ``columns`` of ``table`` in binary format, or None if
    one of them has to go as text (JSON, say)."""
    names = []
    for column in columns:
        kind = table.c[column].type
        name = next((n for t, n in _BINARY_TYPES if isinstance(kind, t)), None)
        if name is None:
            return None
        names.append(name)
    return tuple(names)


def _quoted(dialect: sa.Dialect, name: str) -> str:
    return str(dialect.identifier_preparer.quote(name))


def _column_list(dialect: sa.Dialect, columns: Sequence[str]) -> str:
    return ", ".join(_quoted(dialect, c) for c in columns)


@functools.cache
def _insert_sql(
    dialect: sa.Dialect, table: str, columns: tuple[str, ...], constants: Constants = ()
) -> str:
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    names = (*columns, *(name for name, _value in constants))
    values = (*(marker for _ in columns), *(_LITERALS[value] for _name, value in constants))
    return (
        f"INSERT INTO {_quoted(dialect, table)} ({_column_list(dialect, names)}) "
        f"VALUES ({', '.join(values)})"
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
