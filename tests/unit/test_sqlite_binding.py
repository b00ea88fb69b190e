"""SQLite binds None and bools through adapters of ours (``database._bind_cheaply``): faster,
and what is stored is exactly what it was without them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from marketsync.eventlog.database import create_engine, create_scratch_engine

KEYS = ((type(None), sqlite3.PrepareProtocol), (bool, sqlite3.PrepareProtocol))


def forget_adapters() -> None:
    """As in a fresh process (an earlier test's engine registered them already)."""
    for key in KEYS:
        sqlite3.adapters.pop(key, None)


def test_engines_register_the_adapters(tmp_path: Path) -> None:
    forget_adapters()
    create_engine(f"sqlite:///{tmp_path / 'log.db'}").dispose()
    assert all(key in sqlite3.adapters for key in KEYS)
    forget_adapters()
    create_scratch_engine(tmp_path / "scratch.db").dispose()
    assert all(key in sqlite3.adapters for key in KEYS)


def test_none_is_null_and_a_bool_its_integer(tmp_path: Path) -> None:
    create_engine(f"sqlite:///{tmp_path / 'log.db'}").dispose()
    with sqlite3.connect(tmp_path / "plain.db") as connection:
        connection.execute("CREATE TABLE t (a, b, c)")
        connection.execute("INSERT INTO t VALUES (?, ?, ?)", (None, True, False))
        row = connection.execute("SELECT a, typeof(a), b, typeof(b), c FROM t").fetchone()
    assert row == (None, "null", 1, "integer", 0)
