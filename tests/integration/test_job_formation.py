"""Job formation waits while an earlier job of the marketplace has yet to call createFeed.

The poller takes the createFeed tokens only right before the call, after uploading the
document. A job still uploading (processing) is about to take the token the buckets show: a
job reserved on it would wait a whole token interval before its own createFeed, its items
no longer gathering. So the batcher counts reserved, created and processing jobs alike.
"""

from __future__ import annotations

import pytest

from marketsync import demo
from marketsync.domain.events import (
    Event,
    FeedSubmitted,
    JobCreated,
    JobItem,
    JobProcessingStarted,
    JobReserved,
)
from marketsync.eventlog.store import EventStore
from marketsync.workers.batcher import Batcher
from tests.integration.jobs.shop import Shop

pytestmark = pytest.mark.integration

T0 = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def record(store: EventStore, *events: Event) -> None:
    with store.write() as tx:
        for event in events:
            tx.record(event)


def test_no_job_is_reserved_while_an_earlier_one_uploads(
    store: EventStore, database_url: str
) -> None:
    settings = demo.run_settings("amqp://unused", database_url, None, demo.credentials_env())
    clock = Clock()
    batcher = Batcher(store, settings, clock=clock)
    shop = Shop()
    record(
        store,
        JobReserved(
            at=T0,
            job_id=1,
            account=shop.name,
            marketplace=shop.marketplace,
            job_type="update-qty",
            items=(JobItem(sku="A", message_id=1, quantity=1, quantity_version=1),),
        ),
        JobCreated(
            at=T0, job_id=1, feed_type="JSON_LISTINGS_FEED", document="{}", document_sha256="0" * 64
        ),
        JobProcessingStarted(at=T0, job_id=1),
    )
    batcher.record([shop.changed("B", quantity=2)])
    clock.now = T0 + 60.0  # past any gathering window and max age; the buckets are full

    assert batcher.form_jobs() == [], "a job was reserved on the token job 1 is about to take"

    record(store, FeedSubmitted(at=clock.now, job_id=1, feed_id="F1"))
    assert batcher.form_jobs() == [2]
