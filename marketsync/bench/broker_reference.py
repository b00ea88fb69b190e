"""The broker's own limit: plain pika, the pipeline's queue, no pipeline.

* :class:`WindowedPublisher` publishes over a pika ``SelectConnection`` with publisher
  confirms, keeping up to ``window`` messages unconfirmed (a ``BlockingConnection`` waits
  for each confirm: that is one round trip a message, not a window).
* :func:`consume` is a plain ``BlockingConnection`` consumer with manual acks that decodes
  each JSON body, with the batcher's prefetch. It acks each message, or (``ack_every``) one
  ``multiple`` ack per that many, as the batcher settles a batch.

:func:`measure` runs both at once, each in a process of its own, against the pipeline's
quorum queue (declared by :class:`~marketsync.workers.broker.Topology`, so the queue type and
arguments are the pipeline's), with the same message bodies the pipeline gets.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pika

from marketsync.bench.report import Figure
from marketsync.bench.workload import Message
from marketsync.settings import PipelineSettings
from marketsync.workers.broker import Topology, connect

WINDOW = 1000
PREFETCH = PipelineSettings().batch_size * 2  # the batcher's (broker.BatchConsumer)
TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Published:
    started: float  # time.monotonic() of the first publish
    finished: float  # ... of the last confirm
    confirmed: int
    nacked: int
    returned: int


@dataclass(frozen=True, slots=True)
class Consumed:
    first: float
    last: float  # time.monotonic() once the last message was acked
    count: int


class WindowedPublisher:
    """Publishes ``messages`` to ``exchange`` with at most ``window`` unconfirmed at a time."""

    def __init__(self, url: str, exchange: str, messages: Sequence[Message], window: int) -> None:
        self._parameters = pika.URLParameters(url)
        self._exchange, self._messages, self._window = exchange, messages, window
        self._connection: Any = None
        self._channel: Any = None
        self._next = 0
        self._floor = 0  # every delivery tag up to here is confirmed
        self._above: set[int] = set()  # confirmed tags above the floor
        self._confirmed = self._nacked = self._returned = 0
        self._started = self._finished = 0.0
        self._error: str | None = None

    def run(self) -> Published:
        self._connection = pika.SelectConnection(
            self._parameters,
            on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
            on_open_error_callback=self._on_error,
            on_close_callback=lambda _c, reason: self._connection.ioloop.stop(),
        )
        self._connection.ioloop.start()
        if self._error is not None:
            raise ConnectionError(self._error)
        return Published(
            self._started, self._finished, self._confirmed, self._nacked, self._returned
        )

    def _on_error(self, _connection: Any, error: Exception) -> None:
        self._error = str(error)
        self._connection.ioloop.stop()

    def _on_channel(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: Any) -> None:
        self._started = time.monotonic()
        self._fill()

    def _fill(self) -> None:
        while self._next < len(self._messages) and self._next - self._confirmed < self._window:
            key, body, message_id = self._messages[self._next]
            properties = pika.BasicProperties(
                delivery_mode=2, content_type="application/json", message_id=message_id
            )
            self._channel.basic_publish(self._exchange, key, body, properties, mandatory=True)
            self._next += 1

    def _on_return(self, *_args: Any) -> None:
        self._returned += 1

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag, newly = method.delivery_tag, 0
        if method.multiple:
            newly = max(0, tag - self._floor - sum(1 for t in self._above if t <= tag))
            self._above = {t for t in self._above if t > tag}
            self._floor = max(self._floor, tag)
        else:
            newly = 1
            self._above.add(tag)
            while self._floor + 1 in self._above:
                self._floor += 1
                self._above.discard(self._floor)
        if isinstance(method, pika.spec.Basic.Nack):
            self._nacked += newly
        self._confirmed += newly
        if self._confirmed >= len(self._messages):
            self._finished = time.monotonic()
            self._connection.close()
        else:
            self._fill()


def _publish_main(
    url: str, exchange: str, messages: Sequence[Message], window: int, results: Any
) -> None:
    results.put(WindowedPublisher(url, exchange, messages, window).run())


def consume(
    url: str, queue: str, count: int, prefetch: int = PREFETCH, ack_every: int = 1
) -> Consumed:
    """Consume ``count`` messages, decoding each JSON body; ack each (or every ``ack_every``
    with ``multiple``)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    seen = {"count": 0, "first": 0.0}

    def on_message(ch: Any, method: Any, _properties: Any, body: bytes) -> None:
        json.loads(body)
        if not seen["count"]:
            seen["first"] = time.monotonic()
        seen["count"] += 1
        if ack_every == 1:
            ch.basic_ack(delivery_tag=method.delivery_tag)
        elif seen["count"] % ack_every == 0 or seen["count"] == count:
            ch.basic_ack(delivery_tag=method.delivery_tag, multiple=True)

    channel.basic_consume(queue, on_message)
    deadline = time.monotonic() + TIMEOUT
    while seen["count"] < count and time.monotonic() < deadline:
        connection.process_data_events(time_limit=0.2)
    last = time.monotonic()
    connection.close()
    return Consumed(seen["first"], last, int(seen["count"]))


def _consume_main(url: str, queue: str, count: int, ack_every: int, results: Any) -> None:
    results.put(consume(url, queue, count, ack_every=ack_every))


def consumers(url: str, queue: str) -> int:
    """How many consumers ``queue`` has now (0 when it does not exist yet)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        return int(channel.queue_declare(queue, passive=True).method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    finally:
        if connection.is_open:
            connection.close()


def wait_for_consumer(
    url: str, topology: Topology, alive: Any = None, timeout: float = 60.0
) -> None:
    """Declare ``topology`` (idempotent) and wait until something consumes its queue."""
    with connect(url) as connection:
        topology.declare(connection)
    deadline = time.monotonic() + timeout
    while consumers(url, topology.batcher_queue.name) < 1:
        if time.monotonic() > deadline or (alive is not None and not alive()):
            raise TimeoutError(f"nothing consumes {topology.batcher_queue.name}")
        time.sleep(0.1)


def start_publisher(
    url: str, exchange: str, messages: Sequence[Message], window: int = WINDOW
) -> tuple[Any, Any]:
    """The windowed publisher in a process of its own; (process, results queue)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(
        target=_publish_main, args=(url, exchange, messages, window, results), name="bench-pub"
    )
    process.start()
    return process, results


@dataclass(frozen=True, slots=True)
class Reference:
    rate: float  # events a second, first publish to last ack
    publish_rate: float  # events a second, first publish to last confirm
    messages: int
    message_bytes: float
    window: int
    prefetch: int


def measure(
    url: str,
    prefix: str,
    messages: Sequence[Message],
    window: int = WINDOW,
    ack_every: int = 1,
) -> Reference:
    """Publisher and consumer at once, each in a process, through the pipeline's queue."""
    topology = Topology(prefix=prefix)
    context = multiprocessing.get_context("spawn")
    consumed_q = context.Queue()
    queue = topology.batcher_queue.name
    consumer = context.Process(
        target=_consume_main, args=(url, queue, len(messages), ack_every, consumed_q)
    )
    consumer.start()
    try:
        wait_for_consumer(url, topology, alive=consumer.is_alive)
        publisher, published_q = start_publisher(url, topology.exchange.name, messages, window)
        published: Published = published_q.get(timeout=TIMEOUT)
        consumed: Consumed = consumed_q.get(timeout=TIMEOUT)
        publisher.join(timeout=30)
        consumer.join(timeout=30)
    finally:
        if consumer.is_alive():
            consumer.kill()
        with connect(url) as connection:
            topology.delete(connection)
    if consumed.count < len(messages) or published.nacked or published.returned:
        raise RuntimeError(
            f"broker reference lost messages: consumed {consumed.count} of {len(messages)}, "
            f"{published.nacked} nacked, {published.returned} returned"
        )
    return Reference(
        rate=len(messages) / (consumed.last - published.started),
        publish_rate=len(messages) / (published.finished - published.started),
        messages=len(messages),
        message_bytes=sum(len(m[1]) for m in messages) / len(messages),
        window=window,
        prefetch=PREFETCH,
    )


def figure(references: Sequence[Reference], ack_every: int, ack_per_message_rate: float) -> Figure:
    """The broker reference: the mean of the runs measured beside the pipeline's."""
    rates = [r.rate for r in references]
    first = references[0]
    return Figure(
        "broker_reference",
        sum(rates) / len(rates),
        "events/s",
        details={
            "runs": rates,
            "publish_rates": [r.publish_rate for r in references],
            "messages": first.messages,
            "message_bytes": first.message_bytes,
            "queue": "quorum (the pipeline's Topology)",
            "publisher": f"pika SelectConnection, confirms, window {first.window}",
            "consumer": (
                f"pika BlockingConnection, prefetch {first.prefetch}, json.loads each body, "
                f"ack multiple every {ack_every} (the batcher's batch)"
            ),
            "ack_per_message_rate": ack_per_message_rate,
        },
    )
