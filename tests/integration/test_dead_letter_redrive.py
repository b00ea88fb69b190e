"""Dead letters: listed with their reason, redriven after a fix, poison loops cut short."""

from __future__ import annotations

import json
import time
import uuid

import pika
import pytest
from kombu import Connection

from marketsync import demo
from marketsync.bootstrap import Stopper, open_store, run_workers
from marketsync.workers.broker import (
    CONTRACT_TOPOLOGY,
    DELIVERY_LIMIT,
    connect,
    list_dead_letters,
    redrive,
)

pytestmark = pytest.mark.integration


def change(account: str, sku: str, quantity: int, marketplace: str = "ATVPDKIKX0DER") -> bytes:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "type": "product.changed",
            "schema_version": 1,
            "account": account,
            "marketplace_id": marketplace,
            "occurred_at": "2026-11-24T21:00:00Z",
            "data": {"sku": sku, "version": 1, "quantity": quantity},
        }
    ).encode()


def publish_raw(amqp_url: str, bodies: list[bytes]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    for body in bodies:
        channel.basic_publish("marketsync.storefront", "product.changed.x", body)
    connection.close()


def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def letters(amqp_url: str) -> list:  # type: ignore[type-arg]
    with connect(amqp_url) as connection:
        return list_dead_letters(connection)


def recorded(store) -> int:  # type: ignore[no-untyped-def]
    return demo.progress(store).recorded


def test_dead_letters_are_listed_with_reasons_and_redriven_after_a_fix(
    amqp_url: str, sqlite_url: str
) -> None:
    """A change for an account not configured yet is dead-lettered with the reason; once the
    account is configured, redrive puts it back and it is recorded."""
    one = (demo.ACCOUNTS[0],)
    both = demo.ACCOUNTS
    environ = demo.credentials_env(both)
    early = demo.run_settings(amqp_url, sqlite_url, None, environ, accounts=one)
    stopper = Stopper()
    threads = run_workers(early, ("batcher",), stopper)
    with connect(amqp_url) as connection:
        CONTRACT_TOPOLOGY.declare(connection)
    publish_raw(
        amqp_url,
        [change("demo-us", "A", 1), change("demo-de", "B", 2, "A1PA6795UKMFR9"), b"not json"],
    )
    wait_for(lambda: len(letters(amqp_url)) == 2)
    stopper.stop()
    for thread in threads:
        thread.join(10)
    found = {d.reason for d in letters(amqp_url)}
    assert "account 'demo-de' is not configured" in found
    assert any(reason.startswith("body:") for reason in found)
    assert len(letters(amqp_url)) == 2, "listing leaves the letters in the queue"

    later = demo.run_settings(amqp_url, sqlite_url, None, environ, accounts=both)
    stopper = Stopper()
    threads = run_workers(later, ("batcher",), stopper)
    store = open_store(later)
    try:
        target = next(d for d in letters(amqp_url) if "demo-de" in d.reason)
        with connect(amqp_url) as connection:
            moved = redrive(connection, {target.id})
        assert [d.id for d in moved] == [target.id]
        wait_for(lambda: recorded(store) == 2)
        assert len(letters(amqp_url)) == 1, "the other letter stays"
    finally:
        stopper.stop()
        for thread in threads:
            thread.join(10)


def test_a_message_that_keeps_failing_is_dead_lettered_by_the_delivery_limit(
    amqp_url: str,
) -> None:
    """A message redelivered past the quorum queue's delivery limit leaves the queue with
    the broker's reason instead of looping forever."""
    with connect(amqp_url) as connection:
        CONTRACT_TOPOLOGY.declare(connection)
    publish_raw(amqp_url, [change("demo-us", "LOOP", 1)])
    for _ in range(DELIVERY_LIMIT + 1):
        with Connection(amqp_url) as connection:
            queue = CONTRACT_TOPOLOGY.batcher_queue.bind(connection.default_channel)
            message = None
            deadline = time.monotonic() + 10
            while message is None and time.monotonic() < deadline:
                message = queue.get(no_ack=False)
            if message is None:
                break
            message.requeue()  # a worker that crashes on it, again and again
    wait_for(lambda: len(letters(amqp_url)) == 1)
    (letter,) = letters(amqp_url)
    assert "delivery_limit" in letter.reason
