"""The whole pipeline, real parts: RabbitMQ, PostgreSQL or SQLite, simulator over HTTP."""

from __future__ import annotations

import pytest

from marketsync import demo
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.projections.replay import verify
from tests.integration.pipeline.harness import pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def assert_amazon_has_newest_values(run, burst: demo.Burst) -> None:  # type: ignore[no-untyped-def]
    sellers = {name: seller for name, seller, *_ in demo.ACCOUNTS}
    listings = {name: run.listings(seller) for name, seller in sellers.items()}
    wrong = []
    for (account, sku), want in burst.final.items():
        have = listings[account].get(sku, {})
        if want["quantity"] is not None and have.get("quantity") != want["quantity"]:
            wrong.append((account, sku, "quantity", want["quantity"], have.get("quantity")))
        if want["price"] is not None and have.get("price") != want["price"]:
            wrong.append((account, sku, "price", want["price"], have.get("price")))
    assert not wrong, f"{len(wrong)} SKUs differ from the storefront, e.g. {wrong[:5]}"


def test_5000_changes_end_in_amazon_with_newest_values(amqp_url: str, database_url: str) -> None:
    """5,000 changes over 500 SKUs and two accounts: Amazon ends at the newest values,
    the pending queue is empty, every job is done, and replay --verify is clean."""
    burst = demo.make_burst(5000, 250)
    with pipeline(amqp_url, database_url, burst) as run:
        with StorefrontPublisher(amqp_url) as publisher:
            publisher.publish_many(burst.events + burst.events[:200])  # 200 redeliveries
        state = demo.wait_settled(run.store, len(burst.events), timeout=240)
        assert state.settled, state
        assert_amazon_has_newest_values(run, burst)
        from marketsync.projections import views

        with run.store.read() as connection:
            assert views.pending(connection) == []
            jobs = views.list_jobs(connection, views.JobFilter(limit=10_000))
        assert jobs and all(j.status == "done" for j in jobs)
        assert sum(j.items for j in jobs) >= len(burst.final)
        verdict = verify(run.store)
        assert verdict.clean, verdict.differences[:10]
        assert run.stats()["throttled_total"] == 0
