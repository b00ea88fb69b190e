"""Rate limits: a storm of 429s and 5xx answers loses nothing; under Amazon's real default
limits the pipeline is never throttled; a lower rate Amazon announces is adopted; a job held
up between reservation and createFeed does not push createFeed beyond its bucket."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from marketsync.domain.events import ApiCallDeferred
from marketsync.domain.jobs import JobStatus
from marketsync.eventlog import tables
from marketsync.projections import views
from tests.integration.jobs.shop import FAST_PIPELINE, US, Shop, assert_documents_valid
from tests.integration.pipeline.harness import Run, pipeline

pytestmark = pytest.mark.integration

DEMO_LIMITS = {  # what demo.run_settings gives an account, on both sides
    "createFeed": {"rate": 1.0, "burst": 15},
    "JSON_LISTINGS_FEED": {"rate": 1.0, "burst": 5},
    "getFeedDocument": {"rate": 5.0, "burst": 10},
    "getFeeds": {"rate": 1.0, "burst": 10},
}
# Amazon refuses 15 calls: 429s on the three operations the brief names, 5xx bursts on two.
# (createFeedDocument runs for one job of an account at a time, so its refusals all land on
# that job's growing backoff: kept to two to keep the test in seconds.)
THROTTLE = {"createFeedDocument": 2, "getFeed": 6, "getFeedDocument": 3}
SERVER_ERRORS = {
    "getFeed": {"count": 3, "status": 500},
    "getFeedDocument": {"count": 1, "status": 503},
}


def publish_changes(run: Run, shop: Shop, skus: list[str], rounds: int) -> dict[str, Any]:
    """``rounds`` changes per SKU, newest last; what Amazon should end with."""
    events, want = [], {}
    for n in range(1, rounds + 1):
        for i, sku in enumerate(skus):
            quantity, price = n * 10 + i, f"{n}.{i:02d}"
            events.append(shop.changed(sku, quantity=quantity, price=price))
            want[sku] = (quantity, price)
    run.publish(*events)
    run.wait_settled(*events, timeout=120)
    return want


def amazon_has(run: Run, shop: Shop, skus: list[str]) -> dict[str, Any]:
    listings = run.listings(shop.seller)
    return {s: (listings[s]["quantity"], listings[s]["price"]) for s in skus}


def job_statuses(run: Run) -> Counter[str]:
    with run.store.read() as connection:
        jobs = views.list_jobs(connection, views.JobFilter(limit=10_000))
    return Counter(j.status.value for j in jobs)


@pytest.mark.slow
def test_a_storm_of_429_and_5xx_loses_nothing(amqp_url: str, database_url: str) -> None:
    """Amazon answers many calls of every Feeds operation with 429 and some with 500/503:
    every job still ends done, Amazon ends at the newest values, nothing stays pending, and
    each refused call is an ApiCallDeferred in its job's log saying why."""
    shop = Shop()
    skus = [f"T-{n:02d}" for n in range(12)]
    pipeline_settings = {**FAST_PIPELINE, "max_messages_per_feed": 2}
    with pipeline(
        amqp_url,
        database_url,
        accounts=(US,),
        listings=[shop.seed(s) for s in skus],
        pipeline=pipeline_settings,
    ) as run:
        run.set_faults(throttle=THROTTLE, server_error=SERVER_ERRORS)
        want = publish_changes(run, shop, skus, rounds=2)

        assert amazon_has(run, shop, skus) == want
        statuses = job_statuses(run)
        assert set(statuses) == {JobStatus.DONE.value} and statuses["done"] >= 6, statuses
        with run.store.read() as connection:
            assert views.pending(connection) == []
        faults = run.faults()  # what is left of the storm
        assert faults["throttle"] == {} and faults["server_error"] == {}, "storm not spent"

        deferred = [e for e in run.events("ApiCallDeferred") if isinstance(e, ApiCallDeferred)]
        throttled = Counter(e.operation for e in deferred if "429" in e.reason)
        failed = Counter(e.operation for e in deferred if "429" not in e.reason)
        assert dict(throttled) == run.stats()["throttled"]  # every 429 answered is deferred
        assert dict(failed) == {op: e["count"] for op, e in SERVER_ERRORS.items()}
        for event in deferred:
            assert event.reason.startswith(f"{event.operation}: "), event.reason
            assert any(code in event.reason for code in ("429", "500", "503")), event.reason
            assert event.retry_at > event.at
        assert_documents_valid(run)


def test_amazons_default_limits_are_never_exceeded(amqp_url: str, database_url: str) -> None:
    """With Amazon's published default limits on both sides (no overrides), a few jobs run
    to done without a single throttled call."""
    shop = Shop()
    skus = [f"D-{n}" for n in range(6)]
    pipeline_settings = {**FAST_PIPELINE, "max_messages_per_feed": 2}
    with pipeline(
        amqp_url,
        database_url,
        accounts=(US,),
        listings=[shop.seed(s) for s in skus],
        pipeline=pipeline_settings,
        simulator={"limits": {}},
        account_limits={shop.name: None},
    ) as run:
        assert dict(run.settings.account(shop.name).limits) == {}
        want = publish_changes(run, shop, skus, rounds=1)

        assert amazon_has(run, shop, skus) == want
        stats = run.stats()
        assert stats["requests"]["createFeed"] == 3
        assert stats["throttled_total"] == 0, stats["throttled"]
        assert run.events("ApiCallDeferred") == []
        assert job_statuses(run) == Counter({"done": 3})


@pytest.mark.slow
def test_a_lower_rate_amazon_announces_is_adopted(amqp_url: str, database_url: str) -> None:
    """Amazon announces (x-amzn-RateLimit-Limit) a lower getFeed rate than configured: the
    pipeline records it and polls at that rate from then on, so Amazon never throttles it."""
    shop = Shop()
    skus = [f"R-{n}" for n in range(4)]
    announced = 0.5
    limits = {**DEMO_LIMITS, "getFeed": {"rate": 2.0, "burst": 2}}  # a small burst: 429 soon
    with pipeline(
        amqp_url,
        database_url,
        accounts=(US,),
        listings=[shop.seed(s) for s in skus],
        pipeline=FAST_PIPELINE,
        limits=limits,
        simulator={"limits": limits, "in_queue_seconds": 1.5},  # polled a few times
    ) as run:
        run.set_faults(announce_rate={"getFeed": announced})
        for n in range(2):  # one job after another: each polled a few times
            publish_changes(run, shop, skus[n * 2 : n * 2 + 2], rounds=1)

        t = tables.rate_buckets
        query = sa.select(t).where(t.c.account == shop.name, t.c.operation == "getFeed")
        with run.store.read() as connection:
            bucket = connection.execute(query).mappings().one()
        assert bucket["announced_rate"] == announced
        stats = run.stats()
        assert stats["requests"]["getFeed"] >= 4  # more than the burst
        deferred = [e for e in run.events("ApiCallDeferred") if isinstance(e, ApiCallDeferred)]
        assert stats["throttled"].get("getFeed", 0) == 0, (
            "getFeed was still called faster than Amazon announced",
            [e.reason for e in deferred],
        )


@pytest.mark.slow
def test_a_delayed_job_does_not_push_create_feed_beyond_its_bucket(
    amqp_url: str, database_url: str
) -> None:
    """A job held up by a transient error between reservation and createFeed does not make
    the pipeline call createFeed faster than its bucket: with the same limit on Amazon's
    side, Amazon never throttles a createFeed call."""
    shop = Shop()
    skus = [f"B-{n}" for n in range(5)]
    limits = {**DEMO_LIMITS, "createFeed": {"rate": 1.0, "burst": 1}}
    with pipeline(
        amqp_url,
        database_url,
        accounts=(US,),
        listings=[shop.seed(s) for s in skus],
        pipeline={**FAST_PIPELINE, "max_messages_per_feed": 1},
        limits=limits,
        simulator={"limits": limits},
    ) as run:
        run.set_faults(server_error={"createFeedDocument": {"count": 1, "status": 503}})
        want = publish_changes(run, shop, skus, rounds=1)

        assert amazon_has(run, shop, skus) == want
        stats = run.stats()
        deferred = [e for e in run.events("ApiCallDeferred") if isinstance(e, ApiCallDeferred)]
        assert stats["throttled"].get("createFeed", 0) == 0, (
            "createFeed was called beyond its bucket",
            [(e.job_id, e.reason) for e in deferred],
        )
