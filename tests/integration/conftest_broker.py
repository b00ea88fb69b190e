"""A throwaway RabbitMQ vhost per test (import ``broker_vhost_url`` into a conftest).

The broker is the one at ``MARKETSYNC_AMQP_URL`` (default
``amqp://guest:guest@127.0.0.1:5672/%2F``); vhosts are made and dropped with the local
``rabbitmqctl``. Without a reachable broker or without ``rabbitmqctl`` the test is skipped
with the reason, except when ``CI=true``: there a missing service fails the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import NoReturn
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

import pytest

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
RABBITMQCTL_TIMEOUT = 60.0


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it in CI where the services must be up."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def rabbitmqctl(*args: str) -> str:
    """Run ``rabbitmqctl ARGS``; its stdout. A failure makes the broker unavailable."""
    try:
        done = subprocess.run(
            ["rabbitmqctl", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=RABBITMQCTL_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", None) or error
        unavailable(f"rabbitmqctl {args[0]} failed: {str(detail).strip()}")
    return done.stdout


def _require_broker(url: SplitResult) -> None:
    if shutil.which("rabbitmqctl") is None:
        unavailable("rabbitmqctl is not on PATH: cannot make a test vhost")
    host, port = url.hostname or "127.0.0.1", url.port or 5672
    try:
        socket.create_connection((host, port), timeout=2.0).close()
    except OSError as error:
        unavailable(f"RabbitMQ is not reachable at {host}:{port}: {error}")


@pytest.fixture
def broker_vhost_url() -> Iterator[str]:
    """An AMQP URL for a fresh, empty vhost that the URL's user may use fully."""
    base = urlsplit(os.environ.get("MARKETSYNC_AMQP_URL") or DEFAULT_AMQP_URL)
    _require_broker(base)
    vhost = f"marketsync-test-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, base.username or "guest", ".*", ".*", ".*")
        yield urlunsplit(base._replace(path="/" + quote(vhost, safe="")))
    finally:
        subprocess.run(
            ["rabbitmqctl", "delete_vhost", vhost],
            capture_output=True,
            timeout=RABBITMQCTL_TIMEOUT,
            check=False,
        )
