"""The storefront publisher SDK: send contract v1 events to RabbitMQ with confirms.

This is the one module that imports pika. It publishes each event to
:data:`~marketsync.schemas.storefront.EXCHANGE` with routing key ``<type>.<account>``,
persistent, ``mandatory`` and under publisher confirms, so :meth:`StorefrontPublisher.publish`
returns only once the broker has taken responsibility for the message.

Errors::

    PublishError            the event may not be stored: the caller still owns it
     ├── Unroutable         no queue is bound for its routing key (nothing would consume it)
     └── PublishNacked      the broker refused responsibility for it (nack)

    InvalidMessage          (marketsync.schemas) the event breaks the contract; raised
                            before anything is sent

A lost connection is not an error the caller sees: the publisher reconnects (tenacity,
exponential backoff with full jitter, bounded attempts) and publishes the message that was in
flight again. Delivery is therefore at least once; the event ``id`` is the idempotency key
that makes the duplicate harmless. The AMQP password never appears in a log line or an
error message (see :func:`redact_url`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import unquote

import pika
import pika.exceptions as amqp
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from marketsync.schemas.storefront import EXCHANGE, StorefrontEvent, routing_key, to_body

__all__ = ["PublishError", "PublishNacked", "StorefrontPublisher", "Unroutable", "redact_url"]

log = structlog.get_logger(__name__)

CONNECTION_NAME: Final = "marketsync-publisher"
BLOCKED_CONNECTION_TIMEOUT: Final = 30.0  # a broker under a resource alarm: give up, retry
BACKOFF_MULTIPLIER: Final = 0.2  # seconds; the n-th wait is uniform in [0, 0.2 * 2**n]
BACKOFF_MAX: Final = 5.0
_FATAL_REPLY_CODES: Final = frozenset({403, 406, 530})  # access refused, precondition, not allowed
_FATAL_CONNECTION_ERRORS: Final = (
    amqp.AuthenticationError,
    amqp.ProbableAuthenticationError,
    amqp.ProbableAccessDeniedError,
    amqp.IncompatibleProtocolError,
)


class PublishError(Exception):
    """The event may not have reached the broker. ``published`` counts the events of a
    :meth:`StorefrontPublisher.publish_many` call confirmed before this one failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.published = 0


class Unroutable(PublishError):
    """The broker returned the message: no queue is bound for its routing key."""


class PublishNacked(PublishError):
    """The broker nacked the message: it did not take responsibility for it."""


def redact_url(url: str) -> str:
    """``url`` with its password replaced: ``amqp://guest:***@host:5672/vhost``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url if "@" not in url else "<AMQP URL>"
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"


def _password_forms(url: str) -> tuple[str, ...]:
    """The URL's password as written (percent-encoded) and decoded, for scrubbing."""
    userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    raw = userinfo.partition(":")[2]
    return tuple(form for form in {raw, unquote(raw)} if form)


def _is_transient(error: BaseException) -> bool:
    """Worth reconnecting and trying again: the connection or channel went away."""
    if isinstance(error, _FATAL_CONNECTION_ERRORS):
        return False
    if isinstance(error, amqp.ConnectionClosedByBroker | amqp.ChannelClosedByBroker):
        return error.reply_code not in _FATAL_REPLY_CODES
    return isinstance(
        error,
        amqp.AMQPConnectionError | amqp.ChannelWrongStateError | amqp.ChannelClosed | OSError,
    )


def _close_quietly(connection: Any) -> None:
    try:
        if connection.is_open:
            connection.close()
    except (amqp.AMQPError, OSError):
        pass  # already broken: closing is best effort


class StorefrontPublisher:
    """Publishes storefront events with confirms over one pika ``BlockingConnection``.

    Connects on first use (or on ``with``), declares the exchange idempotently, and is
    not thread-safe: give each thread its own publisher.
    """

    def __init__(
        self,
        amqp_url: str,
        *,
        connect_timeout: float = 5.0,
        retry_attempts: int = 5,
        exchange: str = EXCHANGE,
    ) -> None:
        self._exchange = exchange
        self._safe_url = redact_url(amqp_url)
        self._passwords = _password_forms(amqp_url)
        self._parameters = self._connection_parameters(amqp_url, connect_timeout)
        self._retrying = Retrying(
            stop=stop_after_attempt(max(1, retry_attempts)),
            wait=wait_random_exponential(multiplier=BACKOFF_MULTIPLIER, max=BACKOFF_MAX),
            retry=retry_if_exception(_is_transient),
            before_sleep=self._before_retry,
            reraise=True,
        )
        self._connection: Any = None
        self._channel: Any = None
        self._closed = False

    def _connection_parameters(self, amqp_url: str, connect_timeout: float) -> Any:
        try:
            parameters = pika.URLParameters(amqp_url)
        except Exception:  # pika raises assorted types on a malformed URL
            raise ValueError(f"not a usable AMQP URL: {self._safe_url}") from None
        parameters.connection_attempts = 1  # tenacity owns retrying
        parameters.socket_timeout = connect_timeout
        parameters.stack_timeout = connect_timeout
        parameters.blocked_connection_timeout = BLOCKED_CONNECTION_TIMEOUT
        parameters.client_properties = {"connection_name": CONNECTION_NAME}
        return parameters

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection now (it opens on first publish otherwise)."""
        try:
            self._retrying(self._ensure_channel)
        except (amqp.AMQPError, OSError) as error:
            raise PublishError(
                f"could not connect to {self._safe_url}: {self._describe(error)}"
            ) from None

    def publish(self, event: StorefrontEvent) -> None:
        """Publish ``event`` and wait for the broker's confirm.

        Raises ``InvalidMessage`` before sending if the event breaks the contract,
        :class:`Unroutable`, :class:`PublishNacked`, or :class:`PublishError` once the
        reconnect attempts are spent.
        """
        self._publish_body(event, to_body(event))

    def publish_many(self, events: Iterable[StorefrontEvent]) -> int:
        """Publish ``events`` in order, each confirmed; returns how many were published.

        Every event is checked against the contract first, so an invalid one means none is
        sent. pika's ``BlockingConnection`` waits for each message's confirm before the next
        ``basic_publish`` returns, so this costs one broker round trip per event (a few
        thousand a second on a local broker); that is the price of knowing exactly which
        events are safe. On failure the raised :class:`PublishError` has ``published`` set:
        ``events[:published]`` are confirmed, the rest are not.
        """
        bodies = [(event, to_body(event)) for event in events]
        for count, (event, body) in enumerate(bodies):
            try:
                self._publish_body(event, body)
            except PublishError as error:
                error.published = count
                raise
        return len(bodies)

    def close(self) -> None:
        """Close the connection; further publishes raise :class:`PublishError`."""
        self._closed = True
        self._discard()

    def _publish_body(self, event: StorefrontEvent, body: bytes) -> None:
        key = routing_key(event.event_type, event.account)
        try:
            self._retrying(self._send, event, key, body)
        except amqp.UnroutableError:
            raise Unroutable(
                f"no queue is bound to {self._exchange} for routing key {key} on {self._safe_url}: "
                f"event {event.id} was not stored"
            ) from None
        except amqp.NackError:
            raise PublishNacked(
                f"{self._safe_url} nacked event {event.id} ({key}): it was not stored"
            ) from None
        except (amqp.AMQPError, OSError) as error:
            raise PublishError(
                f"could not publish event {event.id} ({key}) to {self._safe_url}: "
                f"{self._describe(error)}"
            ) from None

    def _send(self, event: StorefrontEvent, key: str, body: bytes) -> None:
        properties = pika.BasicProperties(
            delivery_mode=2,
            content_type="application/json",
            message_id=event.id,
            type=event.event_type,
            timestamp=int(time.time()),
        )
        channel = self._ensure_channel()
        try:
            channel.basic_publish(self._exchange, key, body, properties, mandatory=True)
        except BaseException as error:
            if _is_transient(error):
                self._discard()
            raise

    def _ensure_channel(self) -> Any:
        if self._closed:
            raise PublishError(f"publisher for {self._safe_url} is closed")
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._discard()
        connection = pika.BlockingConnection(self._parameters)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.exchange_declare(self._exchange, exchange_type="topic", durable=True)
        except BaseException:
            _close_quietly(connection)
            raise
        self._connection, self._channel = connection, channel
        log.info("amqp_publisher_connected", url=self._safe_url, exchange=self._exchange)
        return channel

    def _discard(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            _close_quietly(connection)

    def _before_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        self._discard()
        log.warning(
            "amqp_publish_retry",
            url=self._safe_url,
            attempt=state.attempt_number,
            sleep=round(state.upcoming_sleep, 3),
            error=self._describe(error) if error is not None else None,
        )

    def _describe(self, error: BaseException) -> str:
        """``TypeName: text`` of a library error, with the password scrubbed out."""
        detail = str(error) or repr(error)
        name = type(error).__name__
        text = detail if detail.startswith(name) else f"{name}: {detail}"
        for password in self._passwords:
            text = text.replace(password, "***")
        return text
