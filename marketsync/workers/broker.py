"""The one module that imports kombu: topology, and a consumer that settles in batches.

Topology (declared idempotently by every worker that consumes)::

    exchange <prefix>.storefront (topic) ──#──▶ quorum queue marketsync.batcher
        x-dead-letter-exchange marketsync.storefront.dead, x-delivery-limit 5
    exchange marketsync.storefront.dead (fanout) ──▶ quorum queue marketsync.storefront.dead

:class:`BatchConsumer` submits up to ``batch_size`` message bodies at a time to a handler,
which commits, then says per body ``None`` (done) or a reason (dead-letter it). Only then
are the messages settled: a dead letter is republished with its reason in the
``x-marketsync-reason`` header (confirmed) before the original is acked. If the handler
raises, nothing is acked and the batch is retried; a message that breaks the handler by
itself is found by retrying one at a time and dead-lettered with the error.

The handler answers with a future, so that it may run elsewhere (the batcher's recorder
process) while the consumer receives the next batch. One batch is in flight at a time, and
batches are settled in the order they were received; :func:`at_once` turns a plain function
into such a handler.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from kombu import Connection, Consumer, Exchange, Message, Producer, Queue
from kombu.mixins import ConsumerMixin
from kombu.transport.pyamqp import Message as PyAmqpMessage

from marketsync.workers.amqp_readahead import ReadAheadTransport
from marketsync.workers.errors import TransientFailure

log = structlog.get_logger(__name__)

REASON_HEADER = "x-marketsync-reason"
ORIGINAL_COMPRESSION = "x-original-compression"
DELIVERY_LIMIT = 20  # well above what crashes of a healthy batcher redeliver


@dataclass(frozen=True, slots=True)
class Topology:
    """Exchange and queue names. The default prefix gives the v1 contract's names; a demo or
    a test run uses its own prefix so that it never touches another run's messages."""

    prefix: str = "marketsync"

    @property
    def exchange(self) -> Exchange:
        return Exchange(f"{self.prefix}.storefront", type="topic", durable=True)

    @property
    def dead_exchange(self) -> Exchange:
        return Exchange(f"{self.prefix}.storefront.dead", type="fanout", durable=True)

    @property
    def batcher_queue(self) -> Queue:
        return Queue(
            f"{self.prefix}.batcher",
            exchange=self.exchange,
            routing_key="#",
            durable=True,
            queue_arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": self.dead_exchange.name,
                "x-delivery-limit": DELIVERY_LIMIT,
            },
        )

    @property
    def dead_queue(self) -> Queue:
        return Queue(
            f"{self.prefix}.storefront.dead",
            exchange=self.dead_exchange,
            routing_key="",
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )

    def declare(self, connection: Connection) -> None:
        channel = connection.default_channel
        for queue in (self.batcher_queue, self.dead_queue):
            queue.bind(channel).declare()

    def delete(self, connection: Connection) -> None:
        """Remove this prefix's queues and exchanges (demo and test clean-up)."""
        channel = connection.default_channel
        for queue in (self.batcher_queue, self.dead_queue):
            queue.bind(channel).delete()
        for exchange in (self.exchange, self.dead_exchange):
            exchange.bind(channel).delete()


CONTRACT_TOPOLOGY = Topology()

Verdicts = Sequence[str | None]
Handler = Callable[[Sequence[bytes]], Verdicts]
Submit = Callable[[Sequence[bytes]], "Future[Verdicts]"]


def at_once(handler: Handler) -> Submit:
    """``handler`` run in the consumer's own thread, its answer as a finished future."""

    def submit(bodies: Sequence[bytes]) -> Future[Verdicts]:
        future: Future[Verdicts] = Future()
        try:
            future.set_result(handler(bodies))
        except Exception as e:
            future.set_exception(e)
        return future

    return submit


class RawMessage(PyAmqpMessage):  # type: ignore[misc]
    """A delivery exactly as sent: kombu neither inflates a ``compression`` body (a small
    message could become a huge one before our size check) nor decodes it as text. The
    compression header is kept as ``x-original-compression`` for the dead letter."""

    def __init__(self, msg: Any, channel: Any = None, **kwargs: Any) -> None:
        headers = msg.properties.get("application_headers") or {}
        compression = headers.pop("compression", None)
        super().__init__(msg, channel, **kwargs)
        if compression is not None:
            self.headers[ORIGINAL_COMPRESSION] = compression


def raw_channel(channel: Any) -> Any:
    """Deliveries on ``channel`` arrive as :class:`RawMessage` with bytes bodies."""
    channel.auto_decode = False
    channel.Message = RawMessage
    return channel


class Delivery:
    """One delivery on the consumer's channel, as py-amqp hands it over. kombu's message
    around it (:class:`RawMessage`) is built only when it is needed: for a dead letter, and
    for the one ack that settles a batch. Built for every delivery, it took about 4.5 of the
    receiving process's 24 µs a message. It is built once (it keeps the state of its ack)."""

    __slots__ = ("_message", "channel", "raw")
    errors: tuple[Any, ...] = ()  # what kombu's consumer asks of a message it hands over

    def __init__(self, raw: Any, channel: Any) -> None:
        self.raw = raw
        self.channel = channel
        self._message: Message | None = None

    @property
    def body(self) -> Any:
        return self.raw.body

    def message(self) -> Message:
        if self._message is None:
            self._message = RawMessage(self.raw, self.channel)
        return self._message


def body_bytes(message: Message | Delivery) -> bytes:
    body = message.body
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):  # a library that decoded it anyway
        return body.encode("utf-8", "surrogateescape")
    return bytes(body or b"")


def as_sent(headers: dict[str, Any] | None) -> dict[str, Any]:
    """The publisher's headers again (the compression header put back)."""
    restored = dict(headers or {})
    if ORIGINAL_COMPRESSION in restored:
        restored["compression"] = restored.pop(ORIGINAL_COMPRESSION)
    return restored


def _bodies(batch: Sequence[Delivery]) -> list[bytes]:
    return [body_bytes(m) for m in batch]


def connect(url: str) -> Connection:
    """A kombu connection with publisher confirms; nothing connects until first use. A plain
    ``amqp://`` connection reads the socket ahead (:mod:`.amqp_readahead`); any other URL
    (``amqps://``) gets the transport kombu picks for it."""
    transport = ReadAheadTransport if urlsplit(url).scheme == "amqp" else None
    return Connection(
        url, transport=transport, transport_options={"confirm_publish": True}, heartbeat=30
    )


class BatchConsumer(ConsumerMixin):  # type: ignore[misc]
    def __init__(
        self,
        connection: Connection,
        submit: Submit,
        on_idle: Callable[[], None] = lambda: None,
        batch_size: int = 500,
        batch_wait: float = 0.05,
        idle_interval: float = 1.0,
        topology: Topology = CONTRACT_TOPOLOGY,
    ) -> None:
        self.topology = topology
        self.connection = connection
        self.submit = submit
        self.on_idle = on_idle
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.idle_interval = idle_interval
        self._buffer: list[Delivery] = []
        self._first_at = 0.0
        self._idle_at = 0.0
        self._producer: Producer | None = None
        self._in_flight: tuple[list[Delivery], Future[Verdicts]] | None = None
        self._drain_held: Callable[[], int] = lambda: 0

    def get_consumers(self, consumer_cls: type[Consumer], channel: Any) -> list[Consumer]:
        self.topology.declare(self.connection)
        raw_channel(channel)
        channel.message_to_python = lambda raw: Delivery(raw, channel)
        self._producer = Producer(channel)
        # on_message: raw bodies, never decoded by kombu (a bad body must reach the handler)
        consumer = consumer_cls(queues=[self.topology.batcher_queue], on_message=self._on_message)
        consumer.qos(prefetch_count=self.batch_size * 2)
        return [consumer]

    def on_consume_ready(
        self, connection: Connection, channel: Any, consumers: list[Consumer], **kwargs: Any
    ) -> None:
        # py-amqp's connection under kombu's: over plain amqp://, a ReadAheadConnection
        self._drain_held = getattr(connection.connection, "drain_held", lambda: 0)

    def on_connection_revived(self) -> None:
        # Unacked messages come back on the new connection, a batch in flight included (if
        # it was recorded meanwhile, its event ids make the second time a no-op).
        self._buffer.clear()
        self._in_flight = None
        log.info("broker_connected")

    def on_consume_end(self, connection: Connection, channel: Any) -> None:
        """Stopping: settle the batch in flight while its channel is still open."""
        self._finish()

    def run_forever(self) -> None:
        while not self.should_stop:
            try:
                self.run(safety_interval=self.batch_wait)
            except (UnicodeDecodeError, ValueError) as e:
                # A frame py-amqp cannot decode (e.g. a routing key that is not UTF-8).
                # Drop the connection: its unacked messages are redelivered, and one that
                # keeps breaking the frame reaches the delivery limit and the dead letters.
                log.error("undecodable_delivery", error=str(e))
                self._buffer.clear()
                self._in_flight = None
                time.sleep(0.5)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        """kombu could not decode a delivery: never ack and drop it, judge its raw body."""
        if not isinstance(message, Delivery):  # py-amqp's own message
            message = Delivery(message, message.channel)
        self._on_message(message)

    def _on_message(self, message: Delivery) -> None:
        if not self._buffer:
            self._first_at = time.monotonic()
        self._buffer.append(message)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def on_iteration(self) -> None:
        # kombu's loop waits for one message per turn: those already read come first
        self._drain_held()
        if self._in_flight is not None and self._in_flight[1].done():
            self._finish()
        now = time.monotonic()
        if self._buffer and now - self._first_at >= self.batch_wait:
            self.flush()
        if now - self._idle_at >= self.idle_interval:
            self._idle_at = now
            self.on_idle()

    def flush(self) -> None:
        """Submit the buffered batch, once the one in flight (if any) is settled."""
        batch, self._buffer = self._buffer, []
        self._finish()
        if batch:
            self._in_flight = (batch, self.submit(_bodies(batch)))
            if self._in_flight[1].done():  # a handler that ran at once
                self._finish()

    def _finish(self) -> None:
        """Wait for the batch in flight and settle it; on a transient failure, submit it
        again every second until it goes through or the consumer stops (then it stays
        unacked, and RabbitMQ hands it to the next batcher)."""
        if self._in_flight is None:
            return
        batch, future = self._in_flight
        self._in_flight = None
        while True:
            try:
                verdicts = self._judge(batch, future)
            except TransientFailure as e:
                log.warning("batch_retry", reason=str(e), messages=len(batch))
                if self.should_stop:
                    return
                time.sleep(1.0)
                future = self.submit(_bodies(batch))
                continue
            self._settle(batch, verdicts)
            return

    def _judge(self, batch: list[Delivery], future: Future[Verdicts] | None = None) -> Verdicts:
        """Per message None or a reason. A batch the handler fails on for any other reason
        than a transient one is judged again one message at a time."""
        if future is None:
            future = self.submit(_bodies(batch))
        try:
            return future.result()
        except (TransientFailure, BrokenExecutor):
            raise  # retried; or the recorder died, and so does this worker
        except Exception:
            if len(batch) == 1:
                log.exception("poison_message")
                return ["internal error while handling this message; see the worker's log"]
            return [v for m in batch for v in self._judge([m])]

    def _settle(self, batch: list[Delivery], verdicts: Verdicts) -> None:
        for delivery, reason in zip(batch, verdicts, strict=True):
            if reason is not None:
                self._dead_letter(delivery.message(), reason)
        batch[-1].message().ack(multiple=True)

    def _dead_letter(self, message: Message, reason: str) -> None:
        assert self._producer is not None
        headers = as_sent(message.headers)
        headers[REASON_HEADER] = reason
        properties = message.properties or {}
        self._producer.publish(
            body_bytes(message),
            exchange=self.topology.dead_exchange,
            routing_key=message.delivery_info.get("routing_key", ""),
            headers=headers,
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            message_id=properties.get("message_id"),
            delivery_mode=2,
        )
        log.warning(
            "dead_lettered", reason=reason, routing_key=message.delivery_info.get("routing_key")
        )


# --- dead letters: list and redrive ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str  # the message_id, or a digest of the body when the publisher set none
    routing_key: str
    reason: str
    body: bytes


def _dead_letter(message: Message) -> DeadLetter:
    headers = message.headers or {}
    deaths = headers.get("x-death") or []
    reason = headers.get(REASON_HEADER) or (
        f"broker: {deaths[0].get('reason')}" if deaths else "unknown"
    )
    message_id = (message.properties or {}).get("message_id")
    body = body_bytes(message)
    return DeadLetter(
        id=str(message_id or hashlib.sha256(body).hexdigest()[:16]),
        routing_key=str(message.delivery_info.get("routing_key", "")),
        reason=str(reason),
        body=body,
    )


def _drain(connection: Connection, topology: Topology, limit: int) -> tuple[Any, list[Message]]:
    channel = raw_channel(connection.channel())
    queue = topology.dead_queue.bind(channel)
    queue.declare()
    messages: list[Message] = []
    while len(messages) < limit:
        message = queue.get(no_ack=False)
        if message is None:
            break
        messages.append(message)
    return channel, messages


def list_dead_letters(
    connection: Connection, topology: Topology = CONTRACT_TOPOLOGY, limit: int = 1000
) -> list[DeadLetter]:
    """The dead letters, oldest first; they stay in the queue."""
    channel, messages = _drain(connection, topology, limit)
    try:
        return [_dead_letter(m) for m in messages]
    finally:
        channel.close()  # unacked messages go back, in order


def redrive(
    connection: Connection,
    ids: set[str] | None,
    topology: Topology = CONTRACT_TOPOLOGY,
    limit: int = 100_000,
) -> list[DeadLetter]:
    """Publish dead letters (those in ``ids``, or all) back to the storefront exchange.

    Each is republished with its original routing key and confirmed before it leaves the
    dead-letter queue; the others stay where they are.
    """
    channel, messages = _drain(connection, topology, limit)
    producer = Producer(channel)
    moved = []
    try:
        for message in messages:
            letter = _dead_letter(message)
            if ids is not None and letter.id not in ids:
                continue
            headers = {
                k: v
                for k, v in as_sent(message.headers).items()
                if k
                not in (
                    REASON_HEADER,
                    "x-death",
                    "x-first-death-reason",
                    "x-first-death-queue",
                    "x-first-death-exchange",
                    "x-last-death-reason",
                    "x-last-death-queue",
                    "x-last-death-exchange",
                    "x-delivery-count",
                )
            }
            headers["x-marketsync-redriven"] = int(headers.get("x-marketsync-redriven", 0)) + 1
            producer.publish(
                letter.body,
                exchange=topology.exchange,
                routing_key=letter.routing_key,
                headers=headers,
                content_type=message.content_type or "application/json",
                content_encoding=message.content_encoding or "utf-8",
                message_id=(message.properties or {}).get("message_id"),
                delivery_mode=2,
            )
            message.ack()
            moved.append(letter)
    finally:
        channel.close()
    return moved
