"""Real services for integration tests: each test gets its own database and broker space.

URLs come from ``MARKETSYNC_AMQP_URL`` and ``MARKETSYNC_DATABASE_URL`` (PostgreSQL server
URL; each test creates and drops its own database there). Where neither is set and a Docker
engine answers, testcontainers starts the services (a laptop). Where a service cannot be had
the test is skipped with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from marketsync.reachability import reachable

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs this service: {reason}")
    pytest.skip(reason)


_containers: dict[str, str] = {}
_rabbit: list[object] = []  # the RabbitMQ container, when testcontainers started one


def _from_docker(kind: str) -> str | None:
    """Start a container with testcontainers when a Docker engine is there (laptops)."""
    if kind in _containers:
        return _containers[kind]
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        if kind == "amqp":
            from testcontainers.rabbitmq import RabbitMqContainer  # type: ignore[import-untyped]

            rabbit = RabbitMqContainer("rabbitmq:3.13-management").start()
            host, port = rabbit.get_container_host_ip(), rabbit.get_exposed_port(5672)
            _containers[kind] = f"amqp://guest:guest@{host}:{port}/%2F"
            _rabbit.append(rabbit)
        else:
            from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]

            pg = PostgresContainer("postgres:16").start()
            _containers[kind] = pg.get_connection_url().replace("+psycopg2", "")
    except Exception:
        return None
    return _containers[kind]


def amqp_server_url() -> str:
    url = os.environ.get("MARKETSYNC_AMQP_URL") or DEFAULT_AMQP
    if reachable(url, 5672):
        return url
    docker_url = None if os.environ.get("MARKETSYNC_AMQP_URL") else _from_docker("amqp")
    if docker_url is None:
        unavailable(f"RabbitMQ is not reachable at {urlsplit(url).hostname}:{urlsplit(url).port}")
    assert docker_url is not None
    return docker_url


def postgres_server_url() -> str:
    url = os.environ.get("MARKETSYNC_DATABASE_URL") or DEFAULT_PG
    if not url.startswith("postgresql"):
        url = DEFAULT_PG
    if reachable(url, 5432):
        return url
    docker_url = None if os.environ.get("MARKETSYNC_DATABASE_URL") else _from_docker("pg")
    if docker_url is None:
        unavailable(f"PostgreSQL is not reachable at {urlsplit(url).hostname}")
    assert docker_url is not None
    return docker_url


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    server = postgres_server_url()
    name = f"marketsync_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        _with_path(server, urlsplit(server).path or "/test").replace(
            "postgresql://", "postgresql+psycopg://"
        ),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_path(server, f"/{name}")
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rabbitmq_vhost() -> Iterator[str]:
    """A fresh RabbitMQ vhost for one test (rabbitmqctl), deleted afterwards."""
    server = amqp_server_url()
    name = f"marketsync-test-{uuid.uuid4().hex[:12]}"

    def ctl(*args: str) -> None:
        if _rabbit and server == _containers.get("amqp"):  # inside the container
            code, output = _rabbit[0].exec(["rabbitmqctl", "-q", *args])  # type: ignore[attr-defined]
            if code:
                raise subprocess.CalledProcessError(code, args, output)
            return
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    try:
        ctl("add_vhost", name)
        user = urlsplit(server).username or "guest"
        ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    except (OSError, subprocess.SubprocessError) as e:
        unavailable(f"cannot create a RabbitMQ vhost with rabbitmqctl: {e}")
    try:
        yield _with_path(server, f"/{name}")
    finally:
        ctl("delete_vhost", name)
