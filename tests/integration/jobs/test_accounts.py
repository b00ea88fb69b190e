"""Two accounts with different limits: jobs never mix accounts, the slow account does not
slow the fast one, and each account's createFeed calls stay within its own bucket."""

from __future__ import annotations

from datetime import datetime

import pytest

from marketsync.domain.events import CreateFeedCalled, FeedSubmitted, JobEnded, JobReserved
from marketsync.domain.jobs import JobStatus
from marketsync.projections import views
from marketsync.schemas.storefront import ProductChanged
from tests.integration.jobs.shop import DE, FAST_PIPELINE, US, Shop, reserved
from tests.integration.pipeline.harness import Run, pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = {
    "JSON_LISTINGS_FEED": {"rate": 1.0, "burst": 5},
    "getFeedDocument": {"rate": 5.0, "burst": 10},
    "getFeeds": {"rate": 1.0, "burst": 10},
}
SLOW_CREATE = {"rate": 0.2, "burst": 1}  # one feed, then one every 5 s
FAST_CREATE = {"rate": 1.0, "burst": 15}
SKUS = 6
PER_FEED = 2  # so each account needs SKUS / PER_FEED jobs


def feed_times(run: Run, seller: str) -> list[float]:
    """When Amazon received each createFeed of ``seller`` (its feeds' createdTime)."""
    times = [
        datetime.fromisoformat(f["createdTime"].replace("Z", "+00:00")).timestamp()
        for f in run.feeds()
        if f["sellerId"] == seller
    ]
    return sorted(times)


def assert_within_bucket(times: list[float], rate: float, burst: float, slack: float) -> None:
    """No window holds more calls than a (rate, burst) bucket allows (``slack`` s of clock
    jitter between the pipeline and Amazon)."""
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            allowed = burst + rate * (times[j] - start + slack)
            assert j - i + 1 <= allowed, (
                f"{j - i + 1} createFeed calls in {times[j] - start:.2f}s; "
                f"the bucket allows {allowed:.2f}: {times}"
            )


def test_two_accounts_keep_to_their_own_jobs_and_limits(amqp_url: str, database_url: str) -> None:
    """Account A (createFeed burst 1, slow) and B (burst 15) publish at once: every job
    carries one account's SKUs only, B's jobs are all done before A's second feed could
    even be sent, and each account's createFeed calls stay within its own bucket."""
    slow, fast = Shop(US), Shop(DE)
    names = [f"SKU-{n}" for n in range(SKUS)]  # the same SKU names in both accounts
    seeds = [shop.seed(s) for shop in (slow, fast) for s in names]
    with pipeline(
        amqp_url,
        database_url,
        listings=seeds,
        pipeline={**FAST_PIPELINE, "max_messages_per_feed": PER_FEED},
        account_limits={
            slow.name: {**BASE, "createFeed": SLOW_CREATE},
            fast.name: {**BASE, "createFeed": FAST_CREATE},
        },
    ) as run:
        published: dict[str, list[ProductChanged]] = {slow.name: [], fast.name: []}
        for n, sku in enumerate(names):
            for shop, quantity in ((slow, 100 + n), (fast, 200 + n)):
                published[shop.name].append(shop.changed(sku, quantity=quantity))
        run.publish(*(e for events in zip(*published.values(), strict=True) for e in events))
        run.wait_settled(*(e for events in published.values() for e in events), timeout=60)

        jobs = reserved(run)
        sent: dict[str, dict[str, int | None]] = {slow.name: {}, fast.name: {}}
        for job in jobs:
            account = next(s for s in (slow, fast) if s.name == job.account)
            assert job.marketplace == account.marketplace
            for item in job.items:
                assert item.sku not in sent[job.account], f"{item.sku} sent twice"
                sent[job.account][item.sku] = item.quantity
        for shop in (slow, fast):
            want = {e.sku: e.quantity for e in published[shop.name]}
            assert sent[shop.name] == want, f"{shop.name}'s jobs carry another account's items"
            listings = run.listings(shop.seller)
            assert {s: listings[s]["quantity"] for s in names} == want
        with run.store.read() as connection:
            finished = views.list_jobs(connection, views.JobFilter(limit=100))
        assert {j.status for j in finished} == {JobStatus.DONE}
        assert len(finished) == 2 * SKUS // PER_FEED

        ended = {e.job_id: e.at for e in run.events("JobEnded") if isinstance(e, JobEnded)}
        submitted = {
            e.job_id: e.at for e in run.events("FeedSubmitted") if isinstance(e, FeedSubmitted)
        }
        by_account: dict[str, list[JobReserved]] = {slow.name: [], fast.name: []}
        for job in jobs:
            by_account[job.account].append(job)
        fast_done = max(ended[j.job_id] for j in by_account[fast.name])
        slow_second = sorted(submitted[j.job_id] for j in by_account[slow.name])[1]
        first = min(j.at for j in jobs)
        assert fast_done < slow_second, (
            f"the fast account finished {fast_done - first:.1f}s in, after the slow one's "
            f"second feed ({slow_second - first:.1f}s): it was held back"
        )
        assert_within_bucket(feed_times(run, slow.seller), **SLOW_CREATE, slack=0.5)
        assert_within_bucket(feed_times(run, fast.seller), **FAST_CREATE, slack=0.5)
        calls = sorted(
            e.at
            for e in run.events("CreateFeedCalled")
            if isinstance(e, CreateFeedCalled)
            and e.job_id in {j.job_id for j in by_account[slow.name]}
        )
        assert_within_bucket(calls, **SLOW_CREATE, slack=0.0)  # as the pipeline counted them
