"""Messages odd at the AMQP level rather than in their body: the batcher keeps running and
each one ends in the log or in the dead-letter queue, never nowhere.

Each case publishes one odd message with plain pika, then an ordinary valid change behind it,
to a batcher process of its own. Contract v1 binds only the body, so a valid body must be
recorded whatever the properties say; an odd message the consumer cannot even read may be
dead-lettered instead, but must not stop the batcher or vanish.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
import sqlalchemy as sa

from marketsync import demo
from marketsync.eventlog import tables
from marketsync.schemas.storefront import DEAD_LETTER_QUEUE, EXCHANGE
from marketsync.workers.broker import CONTRACT_TOPOLOGY, connect, list_dead_letters
from tests.faults import checks
from tests.integration.pipeline.processes import ProcessRun, process_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.faults]

JUDGED_WITHIN = 30.0


@dataclass(frozen=True)
class Case:
    """One odd message: ``body`` None means a valid change; ``outcome`` is "recorded",
    "dead-lettered" or "either"; a dead letter's reason starts with ``reason``."""

    outcome: str
    body: bytes | None = None
    routing_key: str | bytes = "product.changed.demo-us"
    properties: pika.BasicProperties | None = None
    reason: str = ""


CASES = {
    "empty body": Case("dead-lettered", body=b"", reason="body:"),
    "content_encoding utf-8 (as kombu's JSON serializer sets it)": Case(
        "recorded",
        properties=pika.BasicProperties(content_type="application/json", content_encoding="utf-8"),
    ),
    "message_id not UTF-8": Case("either", properties=pika.BasicProperties(message_id=b"\xff\xfe")),
    "content_type not UTF-8": Case(
        "either", properties=pika.BasicProperties(content_type=b"application/\xc0json")
    ),
    "routing key not UTF-8": Case("either", routing_key=b"product.changed.\xff"),
    "compression header on a plain body": Case(
        "either", properties=pika.BasicProperties(headers={"compression": "zlib"})
    ),
    "compression header on a 2 MB zlib bomb": Case(
        "dead-lettered",
        body=zlib.compress(b"{" * 2_000_000),  # 2 KB on the wire
        properties=pika.BasicProperties(headers={"compression": "application/x-gzip"}),
        reason="body:",
    ),
}


def change(sku: str) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    body = {
        "id": event_id,
        "type": "product.changed",
        "schema_version": 1,
        "account": "demo-us",
        "marketplace_id": "ATVPDKIKX0DER",
        "occurred_at": "2026-11-24T21:00:00Z",
        "data": {"sku": sku, "version": 1, "quantity": 7},
    }
    return event_id, json.dumps(body).encode()


@pytest.fixture
def run(amqp_url: str, postgres_url: str, tmp_path: Path) -> Iterator[ProcessRun]:
    with process_pipeline(amqp_url, postgres_url, demo.Burst(), tmp_path) as running:
        running.procs.start("batcher")
        running.procs.wait_ready("batcher")
        yield running


def recorded(run: ProcessRun, event_id: str) -> bool:
    t = tables.events
    with run.store.read() as connection:
        query = sa.select(sa.func.count()).where(t.c.event_id == event_id)
        return bool(connection.execute(query).scalar_one())


def publish(amqp_url: str, *messages: tuple[str | bytes, bytes, Any]) -> None:
    with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for routing_key, body, properties in messages:
            channel.basic_publish(EXCHANGE, routing_key, body, properties)  # type: ignore[arg-type]


NOT_UTF8 = pytest.mark.xfail(
    strict=True,
    reason="KNOWN LIMIT: py-amqp decodes AMQP short strings strictly while it reads the frame "
    "(no hook to do otherwise), so such a delivery never reaches marketsync: the batcher now "
    "survives it (it reconnects), the broker redelivers it until the quorum queue's delivery "
    "limit dead-letters it, but not within this test's 30 s, and listing that dead letter "
    "fails the same way",
)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=NOT_UTF8) if n.endswith("not UTF-8") else n for n in CASES],
)
def test_an_odd_message_neither_stops_the_batcher_nor_vanishes(
    run: ProcessRun, amqp_url: str, name: str, tally: Any
) -> None:
    """One AMQP-level oddity: the batcher lives on; the message is recorded or dead-lettered."""
    case = CASES[name]
    odd_id, valid = change("ODD-1")
    body = valid if case.body is None else case.body
    after_id, after = change("AFTER-1")
    publish(
        amqp_url,
        (case.routing_key, body, case.properties),
        ("product.changed.demo-us", after, None),
    )

    batcher = run.procs.workers["batcher"]
    deadline = time.monotonic() + JUDGED_WITHIN
    while not (
        recorded(run, after_id)
        and checks.queue_depth(amqp_url, CONTRACT_TOPOLOGY.batcher_queue.name) == 0
    ):
        assert batcher.running, f"the batcher died on it:\n{batcher.stderr()[-3000:]}"
        assert time.monotonic() < deadline, f"not judged in {JUDGED_WITHIN:.0f}s"
        time.sleep(0.2)
    assert batcher.running, f"the batcher died on it:\n{batcher.stderr()[-3000:]}"

    try:
        with connect(amqp_url) as connection:
            letters = list_dead_letters(connection, CONTRACT_TOPOLOGY)
    except Exception as e:  # what `marketsync dead-letters list` runs
        pytest.fail(f"listing the dead letters fails on it: {type(e).__name__}: {e}")
    in_log = case.body is None and recorded(run, odd_id)
    assert in_log or letters, "the message vanished: neither recorded nor dead-lettered"
    if case.outcome == "recorded":
        assert in_log, f"a valid body was dead-lettered: {[letter.reason for letter in letters]}"
    if case.outcome == "dead-lettered":
        assert [x.reason for x in letters if x.reason.startswith(case.reason)], letters
    if letters:  # kept as it was sent, so that it can be redriven once fixed
        assert len(letters) == 1 and checks.queue_depth(amqp_url, DEAD_LETTER_QUEUE) == 1
        sent = hashlib.sha256(body).hexdigest()
        assert hashlib.sha256(letters[0].body).hexdigest() == sent, (
            f"the dead letter holds {len(letters[0].body)} bytes, not the {len(body)} sent"
        )
    assert run.procs.stop("batcher") == 0, run.procs.stderr()
    tally.add(bad_messages=1, published=1)
