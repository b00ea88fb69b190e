"""Shared fixtures: real services per test (see tests/services.py)."""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pytest

from marketsync.eventlog.database import create_engine, migrate
from marketsync.eventlog.store import EventStore
from tests import services


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A RabbitMQ vhost of this test's own."""
    yield from services.rabbitmq_vhost()


@pytest.fixture
def amqp_user_url(amqp_url: str) -> Iterator[str]:
    """``amqp_url``'s vhost, reached as a RabbitMQ user of this test's own with a random
    password (a credential that appears nowhere else, for leak checks)."""
    parts = urlsplit(amqp_url)
    vhost = unquote(parts.path.removeprefix("/"))
    user, password = f"marketsync-test-{uuid.uuid4().hex[:8]}", secrets.token_hex(16)

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    try:
        ctl("add_user", user, password)
        ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    except (OSError, subprocess.SubprocessError) as e:
        services.unavailable(f"cannot add a RabbitMQ user with rabbitmqctl: {e}")
    try:
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
        yield urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    finally:
        ctl("delete_user", user)


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


@pytest.fixture
def store(database_url: str) -> Iterator[EventStore]:
    """An event store on ``database_url``, migrated."""
    engine = create_engine(database_url)
    migrate(engine)
    yield EventStore(engine)
    engine.dispose()
