"""The storefront publisher against a real RabbitMQ (one throwaway vhost per test)."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from contextlib import closing
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pika
import pytest
from structlog.testing import capture_logs

from marketsync.producers import (
    PublishError,
    PublishNacked,
    StorefrontPublisher,
    Unroutable,
    redact_url,
)
from marketsync.schemas.storefront import (
    EXCHANGE,
    InvalidMessage,
    ProductChanged,
    ProductStopped,
    StorefrontEvent,
    parse_message,
)
from tests.integration import conftest_broker

broker_vhost_url = conftest_broker.broker_vhost_url

Delivery = tuple[Any, Any, bytes]


def changed(version: int = 1, account: str = "acme-us") -> ProductChanged:
    return ProductChanged(
        account=account, marketplace_id="ATVPDKIKX0DER", sku="SKU-1", version=version, quantity=5
    )


def bind_queue(url: str, binding_key: str = "#") -> str:
    """A fresh queue bound to the storefront exchange, left behind for the vhost to drop."""
    queue = f"observer.{uuid.uuid4().hex[:8]}"
    with closing(pika.BlockingConnection(pika.URLParameters(url))) as connection:
        channel = connection.channel()
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        channel.queue_declare(queue, durable=False, auto_delete=False)
        channel.queue_bind(queue, EXCHANGE, routing_key=binding_key)
    return queue


def drain(url: str, queue: str) -> list[Delivery]:
    """Every message waiting in ``queue``, in order (acknowledged as read)."""
    deliveries: list[Delivery] = []
    with closing(pika.BlockingConnection(pika.URLParameters(url))) as connection:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return deliveries
            deliveries.append((method, properties, body))


def events_in(url: str, queue: str) -> list[StorefrontEvent]:
    return [parse_message(body) for _, _, body in drain(url, queue)]


def versions_in(url: str, queue: str) -> list[int]:
    return [event.version for event in events_in(url, queue) if isinstance(event, ProductChanged)]


def close_connections_in(vhost: str) -> int:
    """Have the broker close every client connection to ``vhost``; how many it closed."""
    rows = conftest_broker.rabbitmqctl(
        "list_connections", "-q", "--no-table-headers", "pid", "vhost"
    )
    pids = [row.split("\t")[0] for row in rows.splitlines() if row.endswith(f"\t{vhost}")]
    for pid in pids:
        conftest_broker.rabbitmqctl("close_connection", pid, "test: connection dropped")
    return len(pids)


def vhost_of(url: str) -> str:
    return unquote(urlsplit(url).path[1:])


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port or 5672}"
    return urlunsplit(parts._replace(netloc=netloc))


def closed_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- against the broker ---------------------------------------------------------------------


@pytest.mark.integration
def test_publish_delivers_the_body_with_the_contract_properties(broker_vhost_url: str) -> None:
    """A published event arrives on a bound queue with the contract's key and properties."""
    queue = bind_queue(broker_vhost_url, "product.changed.acme-us")
    event = changed()
    with StorefrontPublisher(broker_vhost_url) as publisher:
        publisher.publish(event)
    [(method, properties, body)] = drain(broker_vhost_url, queue)
    assert method.exchange == EXCHANGE
    assert method.routing_key == "product.changed.acme-us"
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert properties.message_id == event.id
    assert properties.type == "product.changed"
    assert abs(properties.timestamp - time.time()) < 60
    assert parse_message(body) == event


@pytest.mark.integration
def test_connecting_declares_the_exchange_durable_topic(broker_vhost_url: str) -> None:
    """Connecting declares marketsync.storefront as a durable topic exchange, idempotently."""
    for _ in range(2):
        with StorefrontPublisher(broker_vhost_url):
            pass
    rows = conftest_broker.rabbitmqctl(
        "list_exchanges",
        "-q",
        "--no-table-headers",
        "-p",
        vhost_of(broker_vhost_url),
        "name",
        "type",
        "durable",
    )
    assert f"{EXCHANGE}\ttopic\ttrue" in rows.splitlines()


@pytest.mark.integration
def test_publish_many_returns_only_after_every_confirm(broker_vhost_url: str) -> None:
    """publish_many returns the count once the broker confirmed them all, in order."""
    queue = bind_queue(broker_vhost_url)
    events = [changed(version) for version in range(200)]
    with StorefrontPublisher(broker_vhost_url) as publisher:
        assert publisher.publish_many(events) == 200
        assert publisher.publish_many([]) == 0
    assert events_in(broker_vhost_url, queue) == events


@pytest.mark.integration
def test_an_event_no_queue_would_receive_raises_unroutable(broker_vhost_url: str) -> None:
    """mandatory=True: with nothing bound for its key, publish raises Unroutable."""
    with StorefrontPublisher(broker_vhost_url) as publisher:
        with pytest.raises(Unroutable) as caught:
            publisher.publish(changed())
        assert isinstance(caught.value, PublishError)
        assert not isinstance(caught.value, PublishNacked)
        assert "product.changed.acme-us" in str(caught.value)
        queue = bind_queue(broker_vhost_url, "product.#")
        publisher.publish(changed(2))
    assert versions_in(broker_vhost_url, queue) == [2]


@pytest.mark.integration
def test_publish_many_says_how_many_were_confirmed_before_a_failure(broker_vhost_url: str) -> None:
    """A failing publish_many reports how many of the events were confirmed before it."""
    queue = bind_queue(broker_vhost_url, "product.changed.*")
    stopped = ProductStopped(account="acme-us", marketplace_id="ATVPDKIKX0DER", sku="S", version=1)
    events: list[StorefrontEvent] = [changed(1), changed(2), stopped, changed(3)]
    with StorefrontPublisher(broker_vhost_url) as publisher, pytest.raises(Unroutable) as caught:
        publisher.publish_many(events)
    assert caught.value.published == 2
    assert events_in(broker_vhost_url, queue) == events[:2]


@pytest.mark.integration
def test_reconnects_and_republishes_after_the_broker_drops_the_connection(
    broker_vhost_url: str,
) -> None:
    """A connection the broker closed is reopened and the in-flight event published again."""
    queue = bind_queue(broker_vhost_url)
    with StorefrontPublisher(broker_vhost_url) as publisher:
        publisher.publish(changed(1))
        assert close_connections_in(vhost_of(broker_vhost_url)) == 1
        with capture_logs() as logs:
            publisher.publish(changed(2))
    assert "amqp_publish_retry" in [entry["event"] for entry in logs]
    assert set(versions_in(broker_vhost_url, queue)) == {1, 2}


@pytest.mark.integration
def test_reconnects_when_its_connection_is_closed_under_it(broker_vhost_url: str) -> None:
    """Closing the publisher's connection object behind its back does not lose the next event."""
    queue = bind_queue(broker_vhost_url)
    with StorefrontPublisher(broker_vhost_url) as publisher:
        publisher.publish(changed(1))
        publisher._connection.close()
        publisher.publish_many([changed(2), changed(3)])
    assert versions_in(broker_vhost_url, queue) == [1, 2, 3]


@pytest.mark.integration
def test_a_refused_login_names_the_url_without_its_password(
    broker_vhost_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad password fails fast with PublishError; neither error nor logs show the password."""
    caplog.set_level(logging.DEBUG)
    url = with_password(broker_vhost_url, "s3cret-Pa55")
    with capture_logs() as logs, pytest.raises(PublishError) as caught:
        StorefrontPublisher(url, retry_attempts=3).publish(changed())
    message = str(caught.value)
    assert "s3cret-Pa55" not in message
    assert "guest:***@" in message
    assert "ACCESS_REFUSED" in message
    assert "amqp_publish_retry" not in [entry["event"] for entry in logs]  # not worth retrying
    assert "s3cret-Pa55" not in repr(logs) + caplog.text


# --- without a broker -----------------------------------------------------------------------


def test_an_unreachable_broker_gives_up_after_the_attempts_without_leaking_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retries are bounded; the final PublishError and the retry logs hide the password."""
    caplog.set_level(logging.DEBUG)
    url = f"amqp://guest:s3cret%2FPa55@127.0.0.1:{closed_port()}/%2F"
    with capture_logs() as logs, pytest.raises(PublishError) as caught:
        StorefrontPublisher(url, connect_timeout=1.0, retry_attempts=3).publish(changed())
    assert "s3cret" not in str(caught.value)
    assert redact_url(url) in str(caught.value)
    assert [entry["attempt"] for entry in logs if entry["event"] == "amqp_publish_retry"] == [1, 2]
    assert "s3cret" not in repr(logs) + caplog.text


def test_an_invalid_event_is_refused_before_anything_is_sent() -> None:
    """publish raises InvalidMessage for an event that breaks the contract, without connecting."""
    publisher = StorefrontPublisher(f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F")
    with pytest.raises(InvalidMessage, match=r"data\.version"):
        publisher.publish(changed(version=-1))
    with pytest.raises(InvalidMessage):
        publisher.publish_many([changed(), changed(version=-1)])


def test_a_closed_publisher_refuses_to_publish() -> None:
    """After close(), publish raises PublishError instead of reconnecting."""
    publisher = StorefrontPublisher(f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F")
    publisher.close()
    with pytest.raises(PublishError, match="is closed"):
        publisher.publish(changed())


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://guest:***@127.0.0.1:5672/%2F"),
        ("amqps://app:p%40ss:w@mq.example.com/shop", "amqps://app:***@mq.example.com/shop"),
        ("amqp://app:pw@host/vh?heartbeat=30", "amqp://app:***@host/vh?heartbeat=30"),
        ("amqp://user@host:5672/", "amqp://user@host:5672/"),
        ("amqp://host/", "amqp://host/"),
        ("amqp://a:b@c@host/", "amqp://a:***@host/"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    """redact_url prints amqp://user:***@host/vhost and leaves password-less URLs alone."""
    assert redact_url(url) == shown
