"""Every connection of a SQLite engine is set up the same way (``database._sqlite_pragmas``):
WAL, no fsync per commit, a bigger page cache, and checkpoints every 10,000 WAL pages."""

from __future__ import annotations

from pathlib import Path

from marketsync.eventlog.database import WAL_CHECKPOINT_PAGES, create_engine


def test_each_connection_gets_the_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                raw = connection.connection.driver_connection
                assert raw is not None
                read = {
                    name: raw.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "synchronous", "cache_size", "wal_autocheckpoint")
                }
                assert read == {
                    "journal_mode": "wal",
                    "synchronous": 1,  # NORMAL
                    "cache_size": -8192,
                    "wal_autocheckpoint": WAL_CHECKPOINT_PAGES,
                }
    finally:
        engine.dispose()
