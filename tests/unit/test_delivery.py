"""A delivery is handed to the batcher as py-amqp received it; kombu's message is built
from it only to settle it, once, and carries exactly what was sent."""

from __future__ import annotations

import zlib

from amqp.basic_message import Message as AmqpMessage

from marketsync.workers.broker import ORIGINAL_COMPRESSION, Delivery, as_sent, body_bytes


def _received(body: bytes, headers: dict[str, object]) -> AmqpMessage:
    raw = AmqpMessage(
        body, application_headers=headers, content_type="application/json", message_id="m-1"
    )
    raw.delivery_info = {"delivery_tag": 7, "routing_key": "product.changed.acme"}
    return raw


def test_the_body_is_handed_over_as_it_came_without_building_kombus_message() -> None:
    compressed = zlib.compress(b'{"id": 1}')
    delivery = Delivery(_received(compressed, {"compression": "application/x-gzip"}), None)
    assert body_bytes(delivery) == compressed  # never inflated
    assert delivery._message is None


def test_kombus_message_is_built_once_with_what_was_sent() -> None:
    headers: dict[str, object] = {"compression": "application/x-gzip", "trace": "t-1"}
    delivery = Delivery(_received(b"raw", headers), channel=None)
    message = delivery.message()
    assert delivery.message() is message  # one message: its ack state is the delivery's
    assert message.body == b"raw"
    assert message.delivery_tag == 7
    assert message.delivery_info["routing_key"] == "product.changed.acme"
    assert message.properties["message_id"] == "m-1"
    assert message.headers[ORIGINAL_COMPRESSION] == "application/x-gzip"
    assert as_sent(message.headers) == {"compression": "application/x-gzip", "trace": "t-1"}
