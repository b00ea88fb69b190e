"""Coalescing: K changes over M SKUs become exactly M feed messages in the fewest feeds.

The K changes are published in one burst (each SKU changed many times, out of order across
SKUs, versions rising per SKU). The whole pipeline runs: batcher, poller and projector in a
child process, the SP-API simulator in this one with Amazon's published limits. Once every
job is done, the simulator says how many feeds were created, how many messages they held,
and what each listing now shows; the minimum number of createFeed calls is one per
``max_messages_per_feed`` SKUs of each account and marketplace (bursts allowing).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marketsync import demo
from marketsync.bench import broker_reference
from marketsync.bench.ingest import wait_recorded
from marketsync.bench.pipeline import pipeline
from marketsync.bench.report import Figure
from marketsync.bench.workload import ACCOUNTS, RunConfig, message, newest_values, run_config
from marketsync.eventlog.database import create_engine
from marketsync.eventlog.store import EventStore
from marketsync.schemas.storefront import ProductChanged
from marketsync.workers.broker import Topology


@dataclass(frozen=True, slots=True)
class Coalesced:
    changes: int
    skus: int
    accounts: int
    feeds: int
    feed_messages: int
    skus_sent_twice: int
    create_feed_calls: int
    create_feed_minimum: int
    throttled: int
    wrong_listings: int  # SKUs whose listing does not show the newest values
    settled: bool


def minimum_feeds(events: Sequence[ProductChanged], per_feed: int) -> int:
    skus_per_market = Counter(
        (account, marketplace)
        for account, marketplace, _sku in {(e.account, e.marketplace_id, e.sku) for e in events}
    )
    return sum(math.ceil(n / per_feed) for n in skus_per_market.values())


def _wrong_listings(state: Any, events: Sequence[ProductChanged]) -> int:
    names = {e.account for e in events}
    sellers = {a.name: a.seller_id for a in ACCOUNTS if a.name in names}
    shown = {
        (name, item["sku"]): item
        for name, seller in sellers.items()
        for item in state.listings(seller)
    }
    wrong = 0
    for key, want in newest_values(events).items():
        have = shown.get(key, {})
        fields = ("quantity", "price")
        wrong += any(want[f] is not None and have.get(f) != want[f] for f in fields)
    return wrong


def run_config_for(amqp_url: str, database_url: str) -> RunConfig:
    """Real time and Amazon's published limits; short polls so the run does not wait on
    getFeed, and a max_age long enough that the whole burst is in before a job forms."""
    return run_config(
        amqp_url,
        database_url,
        pipeline={
            "gathering_window": 5.0,
            "max_age": 600.0,
            "poll_interval": 0.5,
            "retry_base": 3600.0,
        },
        simulator={"in_queue_seconds": 0.5, "in_progress_seconds": 0.5},
    )


def measure(
    amqp_url: str,
    database_url: str,
    prefix: str,
    events: Sequence[ProductChanged],
    budget: float,
) -> Coalesced:
    config = run_config_for(amqp_url, database_url)
    messages = [message(e) for e in events]
    topology = Topology(prefix=prefix)
    with pipeline(config, prefix) as (live, server, worker):
        settings = live.settings()
        engine = create_engine(settings.database_url)
        try:
            broker_reference.wait_for_consumer(amqp_url, topology, alive=worker.alive)
            publisher, results = broker_reference.start_publisher(
                amqp_url, topology.exchange.name, messages
            )
            _, recorded = wait_recorded(engine, len(messages), worker, budget)
            if recorded < len(messages):
                raise RuntimeError(
                    f"the batcher recorded {recorded} of {len(messages)} changes in {budget:.0f} s"
                )
            results.get(timeout=60)
            publisher.join(timeout=30)
            progress = demo.wait_settled(EventStore(engine), len(messages), budget)
        finally:
            engine.dispose()
        feeds = [f for f in server.state.inspect_feeds() if f["feedType"] == "JSON_LISTINGS_FEED"]
        stats = server.state.stats()
        sent = Counter((f["sellerId"], sku) for f in feeds for sku in f["skus"])
        return Coalesced(
            changes=len(events),
            skus=len({(e.account, e.sku) for e in events}),
            accounts=len({e.account for e in events}),
            feeds=len(feeds),
            feed_messages=sum(int(f["messageCount"]) for f in feeds),
            skus_sent_twice=sum(1 for n in sent.values() if n > 1),
            create_feed_calls=int(stats["requests"].get("createFeed", 0)),
            create_feed_minimum=minimum_feeds(events, settings.pipeline.max_messages_per_feed),
            throttled=int(stats["throttled_total"]),
            wrong_listings=_wrong_listings(server.state, events),
            settled=progress.settled,
        )


def figures(result: Coalesced) -> list[Figure]:
    details = {k: getattr(result, k) for k in result.__dataclass_fields__}
    exact = result.feed_messages == result.skus and not result.skus_sent_twice
    return [
        Figure(
            "coalescing_feed_messages",
            result.feed_messages,
            "msgs",
            result.skus,
            "SKUs",
            "= SKUs, newest values",
            exact and result.wrong_listings == 0 and result.settled,
            details,
        ),
        Figure(
            "coalescing_createFeed_calls",
            result.create_feed_calls,
            "calls",
            result.create_feed_minimum,
            "minimum",
            "= minimum, no 429",
            result.create_feed_calls == result.create_feed_minimum and not result.throttled,
            {"feeds": result.feeds, "throttled": result.throttled},
        ),
    ]
