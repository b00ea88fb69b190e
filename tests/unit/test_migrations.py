"""The Alembic migrations build exactly the schema the code declares (SQLite)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from marketsync.domain.events import stream_shard
from marketsync.eventlog import tables
from marketsync.eventlog.database import alembic_config, create_engine, migrate, newest_revision
from tests.schema_drift import (
    current_revisions,
    head_revisions,
    schema_differences,
    table_names,
)

BACKFILL_BATCH = 10_000  # migration 0006's


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    yield engine
    engine.dispose()


def test_migrations_have_a_single_head(engine: sa.Engine) -> None:
    """The migration history is linear: one head to upgrade to."""
    assert len(head_revisions(engine)) == 1


def test_the_newest_revision_read_from_file_names_is_alembics_head(engine: sa.Engine) -> None:
    assert (newest_revision(),) == head_revisions(engine)


def _alembic_imported_by_migrating(url: str) -> bool:
    """Whether ``migrate`` in a fresh interpreter imports Alembic."""
    code = (
        "import sys; from marketsync.eventlog.database import create_engine, migrate; "
        f"migrate(create_engine({url!r})); print('alembic' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return run.stdout.strip() == "True"


def test_a_schema_already_migrated_is_left_alone_without_importing_alembic(
    tmp_path: Path,
) -> None:
    """Every start but the first after an upgrade finds the schema current: Alembic (8 MB of
    the batcher's recorder, a long-lived process) is not even imported then."""
    url = f"sqlite:///{tmp_path / 'started.db'}"
    assert _alembic_imported_by_migrating(url)  # the first start migrates
    assert not _alembic_imported_by_migrating(url)
    engine = create_engine(url)
    assert current_revisions(engine) == (newest_revision(),)
    engine.dispose()


def test_migrations_build_exactly_the_declared_tables(engine: sa.Engine) -> None:
    """A fresh database migrated to head matches tables.metadata: autogenerate finds nothing."""
    migrate(engine)
    assert current_revisions(engine) == head_revisions(engine)
    assert table_names(engine) == set(tables.metadata.tables) | {"alembic_version"}
    assert schema_differences(engine) == []


def test_migrating_twice_changes_nothing_and_keeps_the_rows(engine: sa.Engine) -> None:
    """migrate() on a database already at head is a no-op: same schema, same rows."""
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(sa.insert(tables.checkpoints), [{"name": "views", "position": 42}])
    migrate(engine)
    assert current_revisions(engine) == head_revisions(engine)
    assert schema_differences(engine) == []
    with engine.connect() as connection:
        rows = connection.execute(sa.select(tables.checkpoints)).all()
    assert [tuple(r) for r in rows] == [("views", 42)]


def test_downgrade_to_base_and_upgrade_again_gives_the_same_schema(engine: sa.Engine) -> None:
    """Every migration's downgrade undoes its upgrade: base is empty, head is whole again."""
    migrate(engine)
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert table_names(engine) <= {"alembic_version"}
    migrate(engine)
    assert schema_differences(engine) == []


def test_opening_a_database_waits_for_a_writer_on_a_fresh_file(tmp_path: Path) -> None:
    """Opening a fresh SQLite file another connection is writing waits instead of failing."""
    path = tmp_path / "fresh.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE another_writer (x)")
    done = threading.Timer(1.0, writer.execute, ["COMMIT"])
    done.start()
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        differences = [
            d
            for d in schema_differences(engine)
            if not (d[0] == "remove_table" and d[1].name == "another_writer")
        ]
        assert differences == []
    finally:
        done.join()
        writer.close()
        engine.dispose()


def test_upgrading_to_0004_fills_in_the_pending_kind_of_existing_rows(engine: sa.Engine) -> None:
    """A log written before ``pending_kind`` existed gets it computed for every pending SKU,
    so the batcher's readiness query sees work that was already waiting."""
    config = alembic_config(engine)
    base = {
        "stream_version": 1,
        "quantity_version": 3,
        "price_version": -1,
        "job_quantity_version": -1,
        "job_price_version": -1,
        "acked_quantity_version": -1,
        "acked_price_version": -1,
        "attempts": 0,
        "not_before": 0.0,
        "changed_at": 5.0,
    }
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(
            sa.text(
                "INSERT INTO sku_state (account, marketplace, sku, quantity, status,"
                " pending_since, stream_version, quantity_version, price_version,"
                " job_quantity_version, job_price_version, acked_quantity_version,"
                " acked_price_version, attempts, not_before, changed_at, status_change)"
                " VALUES (:a, 'MP', :s, 4, :status, :pending, :stream_version,"
                " :quantity_version, :price_version, :job_quantity_version, :job_price_version,"
                " :acked_quantity_version, :acked_price_version, :attempts, :not_before,"
                " :changed_at, :change)"
            ),
            [
                {
                    **base,
                    "a": "acc",
                    "s": "UPDATE",
                    "status": "active",
                    "pending": 5.0,
                    "change": 0,
                },
                {**base, "a": "acc", "s": "STOP", "status": "stopped", "pending": 5.0, "change": 1},
                {
                    **base,
                    "a": "acc",
                    "s": "SYNCED",
                    "status": "active",
                    "pending": None,
                    "quantity_version": -1,
                    "change": 0,
                },
            ],
        )
    migrate(engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT sku, pending_kind FROM sku_state ORDER BY sku"))
        assert [tuple(r) for r in rows] == [
            ("STOP", "stop"),
            ("SYNCED", None),
            ("UPDATE", "update"),
        ]


def test_the_shard_column_is_filled_in_for_the_events_already_logged(engine: sa.Engine) -> None:
    """Migration 0006 gives every SKU event already in the log the shard the code writes
    now (and a job's none), over more events than one batch of its backfill."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    streams = [f"sku:acc:MP:SKU-{n}" for n in range(BACKFILL_BATCH + 5)]
    streams += ["job:1", "sku:acc:MP:größe-🙂"]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO events (event_id, stream, version, type, schema_version, data,"
                " metadata, recorded_at) VALUES (:id, :stream, 1, 'T', 1, '{}', '{}', 0)"
            ),
            [{"id": f"e{n}", "stream": s} for n, s in enumerate(streams)],
        )
    migrate(engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT stream, shard FROM events")).all()
    assert {stream: shard for stream, shard in rows} == {s: stream_shard(s) for s in streams}
    assert dict(rows)["job:1"] is None
