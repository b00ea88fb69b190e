"""Freshness: from a change's publish to the createFeed of the feed that carries it.

Amazon's limits are scaled down in time by ``time_scale`` everywhere at once: the simulator's
buckets and processing times (its ``time_scale``), the pipeline's token buckets (each rate
multiplied), and the pipeline's own durations (gathering window, max age, poll interval,
retries divided). With ``time_scale = 60`` createFeed's 0.0083/s becomes one token every
2 s. A storefront publishes changes at a steady rate through the SDK publisher (a confirm
each), every change to a SKU of its own; the simulator records when each feed was created
and which SKUs it carried.

The bound is one token interval (of the scarcer of createFeed and JSON_LISTINGS_FEED) plus
the gathering window plus 1 s.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from marketsync.bench import broker_reference
from marketsync.bench.pipeline import pipeline
from marketsync.bench.report import Figure
from marketsync.bench.workload import ACCOUNTS, RunConfig, changes, run_config
from marketsync.domain.events import JobReserved, decode
from marketsync.domain.token_bucket import DEFAULT_LIMITS
from marketsync.eventlog import tables
from marketsync.eventlog.database import create_engine
from marketsync.eventlog.store import EventStore
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.schemas.storefront import ProductChanged
from marketsync.settings import PipelineSettings
from marketsync.workers.broker import Topology

TIME_SCALE = 60.0
DRAIN_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Freshness:
    p50: float
    p99: float
    worst: float
    bound: float  # token interval + gathering window + 1 s
    token_interval: float
    gathering_window: float
    changes: int
    delivered: int  # changes whose SKU reached a feed before the drain timeout
    feeds: int
    publish_rate: float
    time_scale: float
    reserve_p50: float  # publish to JobReserved: the batcher's share (window, policy, token)
    reserve_p99: float
    submit_p50: float  # JobReserved to createFeed: the poller's share
    submit_p99: float
    throttled: dict[str, int]  # 429s the simulator answered, by operation


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def scaled_config(amqp_url: str, database_url: str, time_scale: float) -> RunConfig:
    """One account; Amazon's limits and the pipeline's own durations on ``time_scale``."""
    p = PipelineSettings()
    return run_config(
        amqp_url,
        database_url,
        accounts=ACCOUNTS[:1],
        time_scale=time_scale,
        pipeline={
            "gathering_window": p.gathering_window / time_scale,
            "max_age": p.max_age / time_scale,
            "poll_interval": p.poll_interval / time_scale,
            "retry_base": p.retry_base / time_scale,
            "retry_max": p.retry_max / time_scale,
        },
    )


def token_interval(time_scale: float) -> float:
    """Seconds between two submissions once the bursts are spent."""
    rate = min(DEFAULT_LIMITS["createFeed"][0], DEFAULT_LIMITS["JSON_LISTINGS_FEED"][0])
    return 1.0 / (rate * time_scale)


def _publish_steadily(
    url: str, exchange: str, events: Sequence[ProductChanged], rate: float, sent: dict[str, float]
) -> None:
    with StorefrontPublisher(url, exchange=exchange) as publisher:
        started = time.monotonic()
        for i, event in enumerate(events):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            sent[event.sku] = time.time()
            publisher.publish(event)


def _feed_times(state: Any) -> tuple[dict[str, float], int]:
    """When the first feed carrying each SKU was created (epoch seconds); how many feeds."""
    created: dict[str, float] = {}
    feeds = [f for f in state.inspect_feeds() if f["feedType"] == "JSON_LISTINGS_FEED"]
    for feed in feeds:
        at = datetime.fromisoformat(feed["createdTime"]).timestamp()
        for sku in feed["skus"]:
            created[sku] = min(at, created.get(sku, at))
    return created, len(feeds)


def _reserved_times(database_url: str) -> dict[str, float]:
    """When each SKU was first reserved into a job (the JobReserved event's ``at``)."""
    engine = create_engine(database_url)
    reserved: dict[str, float] = {}
    try:
        with EventStore(engine).read() as connection:
            query = sa.select(tables.events.c.data).where(tables.events.c.type == "JobReserved")
            for data in connection.execute(query).scalars():
                job = decode("JobReserved", data)
                assert isinstance(job, JobReserved)
                for item in job.items:
                    reserved.setdefault(item.sku, job.at)
    finally:
        engine.dispose()
    return reserved


def measure(
    amqp_url: str,
    database_url: str,
    prefix: str,
    seconds: float,
    rate: float,
    time_scale: float = TIME_SCALE,
) -> Freshness:
    config = scaled_config(amqp_url, database_url, time_scale)
    count = max(1, int(seconds * rate))
    events = changes(count, count, accounts=ACCOUNTS[:1], prefix="FRESH")
    topology = Topology(prefix=prefix)
    sent: dict[str, float] = {}
    with pipeline(config, prefix) as (_live, server, worker):
        broker_reference.wait_for_consumer(amqp_url, topology, alive=worker.alive)
        thread = threading.Thread(
            target=_publish_steadily,
            args=(amqp_url, topology.exchange.name, events, rate, sent),
            name="bench-storefront",
        )
        started = time.monotonic()
        thread.start()
        thread.join()
        publish_rate = count / (time.monotonic() - started)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        created, feeds = _feed_times(server.state)
        while len(created) < count and time.monotonic() < deadline and worker.alive():
            time.sleep(0.5)
            created, feeds = _feed_times(server.state)
        ended = time.time()
        throttled = dict(server.state.stats()["throttled"])
    # a change that never reached a feed counts with what it has waited so far (a lower bound)
    latencies = [created.get(sku, ended) - at for sku, at in sent.items()]
    if not latencies:
        raise RuntimeError("nothing was published")
    reserved = _reserved_times(database_url)
    to_reserve = [reserved[sku] - at for sku, at in sent.items() if sku in reserved]
    to_submit = [created[sku] - reserved[sku] for sku in sent if sku in reserved and sku in created]
    window = config.settings().pipeline.gathering_window
    interval = token_interval(time_scale)
    return Freshness(
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        worst=max(latencies),
        bound=interval + window + 1.0,
        token_interval=interval,
        gathering_window=window,
        changes=count,
        delivered=sum(1 for sku in sent if sku in created),
        feeds=feeds,
        publish_rate=publish_rate,
        time_scale=time_scale,
        reserve_p50=percentile(to_reserve or [0.0], 50),
        reserve_p99=percentile(to_reserve or [0.0], 99),
        submit_p50=percentile(to_submit or [0.0], 50),
        submit_p99=percentile(to_submit or [0.0], 99),
        throttled={k: int(v) for k, v in throttled.items() if v},
    )


def figures(result: Freshness) -> list[Figure]:
    details = {k: getattr(result, k) for k in result.__dataclass_fields__}
    return [
        Figure("freshness_p50", result.p50, "s", result.bound, "bound", details=details),
        Figure(
            "freshness_p99",
            result.p99,
            "s",
            result.bound,
            "bound",
            "<= token + window + 1 s",
            result.p99 <= result.bound,
            {"worst": result.worst},
        ),
    ]
