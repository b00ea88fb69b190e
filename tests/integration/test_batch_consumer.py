"""The batch consumer with a handler that answers later (the batcher's recorder process).

One batch is in flight at a time; a batch is acked only once its handler has answered, in
the order the batches arrived; a batch whose handler fails transiently stays unacked when
the consumer stops, and RabbitMQ gives it to the next consumer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

import pytest

from marketsync.workers.broker import BatchConsumer, Topology, Verdicts, connect
from marketsync.workers.errors import TransientFailure
from tests.faults.checks import queue_depth

pytestmark = pytest.mark.integration

TIMEOUT = 30.0


class LaterHandler:
    """Hands out a future per submitted batch; the test decides when and how each ends."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.futures: list[Future[Verdicts]] = []
        self.submitted = threading.Condition()

    def __call__(self, bodies: Sequence[bytes]) -> Future[Verdicts]:
        future: Future[Verdicts] = Future()
        with self.submitted:
            self.batches.append(list(bodies))
            self.futures.append(future)
            self.submitted.notify_all()
        return future

    def wait_for(self, count: int) -> None:
        with self.submitted:
            assert self.submitted.wait_for(lambda: len(self.batches) >= count, TIMEOUT), (
                f"{len(self.batches)} batches submitted, expected {count}"
            )


def test_one_batch_in_flight_acked_only_once_answered(amqp_url: str) -> None:
    topology = Topology(prefix="consumer-test")
    with connect(amqp_url) as connection:
        topology.declare(connection)
        producer = connection.Producer()
        for n in range(6):
            producer.publish(
                f"m{n}".encode(), exchange=topology.exchange, routing_key="product.changed"
            )
    handler = LaterHandler()
    with connect(amqp_url) as connection:
        consumer = BatchConsumer(connection, handler, batch_size=2, topology=topology)
        worker = threading.Thread(target=consumer.run_forever, daemon=True)
        worker.start()
        try:
            handler.wait_for(1)
            time.sleep(0.5)  # the second batch is in the buffer: it must wait its turn
            assert len(handler.batches) == 1, "a second batch went out while one was in flight"

            handler.futures[0].set_result([None, None])
            handler.wait_for(2)
            time.sleep(0.5)
            assert len(handler.batches) == 2

            handler.futures[1].set_result([None, "not wanted here"])  # one dead letter
            handler.wait_for(3)
            handler.futures[2].set_exception(TransientFailure("database restarting"))
            consumer.should_stop = True  # stops while the third batch is being retried
            worker.join(TIMEOUT)
            assert not worker.is_alive()
        finally:
            consumer.should_stop = True
    assert [b for batch in handler.batches for b in batch] == [f"m{n}".encode() for n in range(6)]
    # the third batch was never answered: back in the queue for the next consumer
    assert queue_depth(amqp_url, topology.batcher_queue.name) == 2
    assert queue_depth(amqp_url, topology.dead_queue.name) == 1
