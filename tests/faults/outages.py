"""Outages of the shared services, always undone: RabbitMQ stopped and started again with
``rabbitmqctl``, PostgreSQL restarted with ``pg_ctlcluster``.

Both services are shared with whatever else runs on the machine, so every outage is short
and ends in a ``finally`` that starts the service again and waits (bounded) until it really
serves again: RabbitMQ answers ``rabbitmqctl status`` and the test's vhost takes a
connection; PostgreSQL accepts a connection and a query.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pika
import sqlalchemy as sa

CTL_TIMEOUT = 90.0
BACK_TIMEOUT = 90.0


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``condition()`` held; AssertionError after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not back after {timeout:.0f}s")
        time.sleep(0.2)
    return time.monotonic() - started


# --- RabbitMQ ------------------------------------------------------------------------------


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=CTL_TIMEOUT, check=False
    )


def vhost_works(amqp_url: str, queue: str) -> bool:
    try:
        with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
            connection.channel().queue_declare(queue, passive=True)
    except Exception:
        return False
    return True


def broker_serves(amqp_url: str, queue: str) -> bool:
    try:
        status = rabbitmqctl("-q", "status")
    except subprocess.TimeoutExpired:
        return False
    return status.returncode == 0 and vhost_works(amqp_url, queue)


def broker_outage(amqp_url: str, queue: str, seconds: float) -> float:
    """``rabbitmqctl stop_app``, ``seconds`` of nothing, ``start_app``; how long until the
    broker served ``queue`` on ``amqp_url`` again, counted from the stop."""
    started = time.monotonic()
    try:
        stopped = rabbitmqctl("stop_app")
        assert stopped.returncode == 0, f"rabbitmqctl stop_app: {stopped.stderr}"
        assert not vhost_works(amqp_url, queue), "the broker still serves after stop_app"
        time.sleep(seconds)
    finally:
        deadline = time.monotonic() + BACK_TIMEOUT
        while rabbitmqctl("start_app").returncode != 0 and time.monotonic() < deadline:
            time.sleep(1.0)  # the node may still be shutting the app down
        wait_for(lambda: broker_serves(amqp_url, queue), BACK_TIMEOUT, "RabbitMQ")
    return time.monotonic() - started


# --- PostgreSQL ----------------------------------------------------------------------------


def postgres_version() -> str:
    """The installed cluster's major version (``ls /etc/postgresql``)."""
    versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: float(v) if v.isdigit() else 0)
    assert versions, "no PostgreSQL cluster under /etc/postgresql"
    return versions[-1]


def pg_ctlcluster(action: str) -> subprocess.CompletedProcess[str]:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", postgres_version(), "main", action]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=CTL_TIMEOUT, check=False, cwd=Path("/")
    )


def database_accepts(database_url: str) -> bool:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()
    return True


def database_outage(database_url: str, seconds: float = 0.0) -> float:
    """Restart PostgreSQL (``restart``, or ``stop``, ``seconds`` of nothing, ``start``); how
    long until ``database_url`` accepted connections again, counted from the stop."""
    started = time.monotonic()
    try:
        if seconds:
            stopped = pg_ctlcluster("stop")
            assert stopped.returncode == 0, f"pg_ctlcluster stop: {stopped.stderr}"
            time.sleep(seconds)
        else:
            restarted = pg_ctlcluster("restart")
            assert restarted.returncode == 0, f"pg_ctlcluster restart: {restarted.stderr}"
    finally:
        if not database_accepts(database_url):
            pg_ctlcluster("start")  # a no-op if it is merely still starting
        wait_for(lambda: database_accepts(database_url), BACK_TIMEOUT, "PostgreSQL")
    return time.monotonic() - started
