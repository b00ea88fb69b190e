"""Shared fixtures: real services per test (see tests/services.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A RabbitMQ vhost of this test's own."""
    yield from services.rabbitmq_vhost()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own."""
    yield from services.postgres_database()


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The pipeline's database: each test runs on PostgreSQL and on SQLite."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'marketsync.db'}"
    else:
        yield from services.postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'marketsync.db'}"
