"""The Alembic migrations build exactly the schema the code declares (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from marketsync.eventlog import tables
from marketsync.eventlog.database import create_engine, migrate
from tests.schema_drift import (
    current_revisions,
    head_revisions,
    migrate_concurrently,
    schema_differences,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_migrations_build_exactly_the_declared_tables_on_postgresql(engine: sa.Engine) -> None:
    """A fresh PostgreSQL database migrated to head matches tables.metadata."""
    migrate(engine)
    assert current_revisions(engine) == head_revisions(engine)
    assert schema_differences(engine) == []


def test_migrating_twice_on_postgresql_changes_nothing(engine: sa.Engine) -> None:
    """migrate() on a PostgreSQL database already at head keeps schema and rows."""
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(sa.insert(tables.checkpoints), [{"name": "views", "position": 7}])
    migrate(engine)
    assert schema_differences(engine) == []
    with engine.connect() as connection:
        assert [tuple(r) for r in connection.execute(sa.select(tables.checkpoints))] == [
            ("views", 7)
        ]


def test_replicas_starting_together_on_postgresql_all_migrate(postgres_url: str) -> None:
    """Four starts migrating one fresh PostgreSQL database at once all succeed."""
    assert migrate_concurrently(postgres_url) == []
    engine = create_engine(postgres_url)
    try:
        assert schema_differences(engine) == []
    finally:
        engine.dispose()
