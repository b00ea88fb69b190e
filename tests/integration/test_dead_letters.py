"""Messages that break the storefront contract go to the dead-letter queue with a reason;
the valid messages around them are recorded (the queue keeps flowing)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pika
import pytest
import sqlalchemy as sa

from marketsync import demo
from marketsync.bootstrap import Stopper, open_store, run_workers
from marketsync.eventlog import tables
from marketsync.eventlog.store import EventStore
from marketsync.schemas.storefront import (
    DEAD_LETTER_QUEUE,
    EXCHANGE,
    ProductChanged,
    to_body,
    to_dict,
)
from marketsync.settings import Settings
from marketsync.workers.broker import CONTRACT_TOPOLOGY, REASON_HEADER, connect

pytestmark = pytest.mark.integration

TIMEOUT = 30.0
ACCOUNT, _SELLER, MARKETPLACE, CURRENCY = demo.ACCOUNTS[0]


@dataclass(frozen=True)
class Poison:
    name: str
    body: bytes
    reason: tuple[str, ...]  # what the x-marketsync-reason header must contain
    properties: bool = True  # False: published with no properties at all (a shell tool)


def envelope(**changes: Any) -> dict[str, Any]:
    """A valid product.changed body as a dict, with ``changes`` applied (None deletes)."""
    body = to_dict(
        ProductChanged(
            account=ACCOUNT,
            marketplace_id=MARKETPLACE,
            sku="SKU-DEAD",
            version=1,
            quantity=3,
        )
    )
    for path, value in changes.items():
        target, *rest = path.split("__")
        holder = body["data"] if rest else body
        key = rest[0] if rest else target
        if value is None:
            holder.pop(key, None)
        else:
            holder[key] = value
    return body


def encoded(**changes: Any) -> bytes:
    return json.dumps(envelope(**changes)).encode("utf-8")


POISON = (
    Poison("not JSON", b"quantity=3&sku=SKU-1", ("body:", "JSON")),
    Poison("not an object", b'["product.changed"]', ("body:", "object")),
    Poison("unknown type", encoded(type="product.exploded"), ("type:", "product.exploded")),
    Poison("missing account", encoded(account=None), ("account:", "required")),
    Poison("missing sku", encoded(data__sku=None), ("data.sku:", "required")),
    Poison("missing data", encoded(data=None), ("data:", "required")),
    Poison(
        "negative quantity",
        encoded(data__quantity=-3),
        ("data.quantity: must be a whole number >= 0, got -3",),  # the README's example
    ),
    Poison(
        "price as a JSON number",
        encoded(data__price={"amount": 19.99, "currency": CURRENCY}),
        ("data.price.amount:", "decimal string"),
    ),
    Poison(
        "price with 3 decimals",
        encoded(data__price={"amount": "1.999", "currency": CURRENCY}),
        ("data.price.amount:", "1.999"),
    ),
    Poison(
        "price zero",
        encoded(data__price={"amount": "0", "currency": CURRENCY}),
        ("data.price.amount:", "greater than 0"),
    ),
    Poison("neither quantity nor price", encoded(data__quantity=None), ("data:", "quantity")),
    Poison("unknown account", encoded(account="nobody-here"), ("nobody-here", "not configured")),
    Poison(
        "unknown marketplace",
        encoded(marketplace_id="A1F83G8C2ARO7P"),
        ("A1F83G8C2ARO7P", "not configured"),
    ),
    Poison("invalid UTF-8", b'{"id": "\xff\xfe", "type": "product.changed"}', ("body:", "UTF-8")),
    Poison("unknown schema version", encoded(schema_version=2), ("schema_version:", "2")),
    Poison(
        "negative quantity, no AMQP properties",
        encoded(data__quantity=-1),
        ("data.quantity:", "-1"),
        properties=False,
    ),
)


def valid_changes(count: int) -> list[ProductChanged]:
    return [
        ProductChanged(
            account=ACCOUNT,
            marketplace_id=MARKETPLACE,
            sku=f"SKU-{i:03d}",
            version=1,
            quantity=i,
        )
        for i in range(count)
    ]


@pytest.fixture
def settings(amqp_url: str, sqlite_url: str) -> Settings:
    return demo.run_settings(amqp_url, sqlite_url, None, demo.credentials_env())


@pytest.fixture
def batcher(settings: Settings) -> Iterator[EventStore]:
    """The batcher in this process, consuming from the test's vhost."""
    store = open_store(settings)
    with connect(settings.amqp_url) as connection:
        CONTRACT_TOPOLOGY.declare(connection)
    stopper = Stopper()
    threads = run_workers(settings, ("batcher",), stopper)
    try:
        yield store
    finally:
        stopper.stop()
        for thread in threads:
            thread.join(timeout=15)
        assert not any(t.is_alive() for t in threads), "the batcher did not stop"


@dataclass(frozen=True)
class Outgoing:
    body: bytes
    message_id: str | None  # None: published with no properties at all


def publish(amqp_url: str, messages: list[Outgoing]) -> None:
    """Publish raw bodies with plain pika, under confirms."""
    with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for message in messages:
            properties = None
            if message.message_id is not None:
                properties = pika.BasicProperties(
                    delivery_mode=2, content_type="application/json", message_id=message.message_id
                )
            channel.basic_publish(EXCHANGE, f"product.changed.{ACCOUNT}", message.body, properties)


def drain(amqp_url: str, queue: str) -> list[tuple[Any, bytes]]:
    with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
        channel = connection.channel()
        got: list[tuple[Any, bytes]] = []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return got
            got.append((properties, body))


def depth(amqp_url: str, queue: str) -> int:
    with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)


def recorded_ids(store: EventStore) -> set[str]:
    events = tables.events
    with store.read() as connection:
        query = sa.select(events.c.event_id).where(events.c.type == "ChangeRecorded")
        return set(connection.execute(query).scalars())


def wait_for(what: str, condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.1)


def test_invalid_messages_are_dead_lettered_with_a_reason_and_valid_ones_recorded(
    amqp_url: str, batcher: EventStore
) -> None:
    """Each contract breach is dead-lettered with a clear reason; the valid changes are recorded."""
    valid = valid_changes(3 * len(POISON))
    messages: list[Outgoing] = []
    sent: dict[bytes, str | None] = {}
    for i, poison in enumerate(POISON):  # each poison between valid changes
        for change in valid[3 * i : 3 * i + 3]:
            messages.append(Outgoing(to_body(change), change.id if i % 2 else None))
        sent[poison.body] = str(uuid.uuid4()) if poison.properties else None
        messages.append(Outgoing(poison.body, sent[poison.body]))
    publish(amqp_url, messages)

    wait_for("the valid changes", lambda: recorded_ids(batcher) >= {c.id for c in valid})
    wait_for("the dead letters", lambda: depth(amqp_url, DEAD_LETTER_QUEUE) >= len(POISON))
    assert recorded_ids(batcher) == {c.id for c in valid}
    assert depth(amqp_url, CONTRACT_TOPOLOGY.batcher_queue.name) == 0, "the queue is stuck"

    dead = {body: properties for properties, body in drain(amqp_url, DEAD_LETTER_QUEUE)}
    assert set(dead) == set(sent), "exactly the invalid messages are dead-lettered"
    unclear = []
    for poison in POISON:
        properties = dead[poison.body]
        reason = (properties.headers or {}).get(REASON_HEADER)
        one_line = isinstance(reason, str) and reason.isascii() and reason.isprintable()
        if not (one_line and all(part in reason for part in poison.reason)):
            unclear.append((poison.name, reason))
        assert properties.message_id == sent[poison.body], poison.name
        assert properties.delivery_mode == 2, poison.name
    assert not unclear, f"reasons that do not say what is wrong: {unclear}"
