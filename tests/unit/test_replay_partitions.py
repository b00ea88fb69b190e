"""The auditor's partitioned replay: the union of the partitions is the whole rebuild."""

from __future__ import annotations

import random

import pytest

from marketsync.domain.events import (
    ChangeRecorded,
    Event,
    JobEnded,
    JobItem,
    JobReserved,
    ListingRequested,
    ResendRequested,
    SellingStatusRequested,
    sku_stream,
)
from marketsync.domain.fold import fold
from marketsync.domain.memory_states import MemoryStates
from marketsync.projections.replay import Partition, PartitionStates

SKUS = [f"SKU-{n}" for n in range(10)] + ["odd:sku:with:colons", "ünïcode"]
MARKET = ("acc", "MP")


def _log(seed: int) -> list[Event]:
    """Changes, listings, status and resend requests, and jobs that end in error (their
    items come back) or are canceled, over a dozen SKUs."""
    rnd = random.Random(seed)
    events: list[Event] = []
    versions = dict.fromkeys(SKUS, 0)
    at = 1.0
    for job_id in range(1, 6):
        for _ in range(25):
            sku = rnd.choice(SKUS)
            versions[sku] += 1
            at += 1
            kind = rnd.random()
            common = {"at": at, "account": MARKET[0], "marketplace": MARKET[1], "sku": sku}
            if kind < 0.7:
                events.append(
                    ChangeRecorded(**common, version=versions[sku], quantity=rnd.randint(0, 9))
                )
            elif kind < 0.8:
                events.append(
                    ListingRequested(
                        **common,
                        version=versions[sku],
                        asin="B000000001",
                        condition="new_new",
                        quantity=3,
                        price="9.99",
                        currency="USD",
                    )
                )
            elif kind < 0.9:
                status = rnd.choice(["stopped", "removed", "active"])
                events.append(
                    SellingStatusRequested(**common, version=versions[sku], status=status)
                )
            else:
                events.append(ResendRequested(**common))
        carried = rnd.sample(SKUS, 6)
        at += 1
        events.append(
            JobReserved(
                at=at,
                job_id=job_id,
                account=MARKET[0],
                marketplace=MARKET[1],
                job_type="update-qty",
                items=tuple(
                    JobItem(sku=s, message_id=i + 1, quantity=1, quantity_version=versions[s])
                    for i, s in enumerate(carried)
                ),
            )
        )
        at += 1
        ending = rnd.choice(["error", "canceled"])
        events.append(
            JobEnded(at=at, job_id=job_id, status=ending, reason="test", retry_at=at + 60)
        )
    return events


def _fold(events: list[Event], states: MemoryStates) -> MemoryStates:
    for event in events:
        fold(states, event)
    return states


@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("seed", range(5))
def test_the_partitions_together_rebuild_exactly_what_one_fold_does(count: int, seed: int) -> None:
    events = _log(seed)
    whole = _fold(events, MemoryStates())
    parts = [_fold(events, PartitionStates(Partition(i, count))) for i in range(count)]

    union = {}
    for part in parts:
        assert not union.keys() & part.skus.keys(), "a SKU kept by two partitions"
        union.update(part.skus)
        assert part.jobs == whole.jobs  # every partition folds every job event
    assert union == whole.skus


@pytest.mark.parametrize("count", range(2, 11))
@pytest.mark.parametrize(
    "name", ["SKU-{:05d}", "TEE-{:05d}-XL", "{:d}"], ids=["numbered", "same-end", "bare-number"]
)
def test_skus_spread_evenly_over_up_to_ten_partitions_however_they_are_named(
    count: int, name: str
) -> None:
    """A SKU's partition comes from a hash of its whole stream: names that all end alike
    spread as evenly as numbered ones (by their last two characters, every ``…-XL`` fell in
    one partition, and by the last digit two of eight partitions had twice the others')."""
    keys = [(*MARKET, name.format(n)) for n in range(10_000)]
    shares = [sum(Partition(i, count).owns(key) for key in keys) for i in range(count)]
    assert sum(shares) == len(keys)
    assert max(shares) <= 1.1 * len(keys) / count, shares


def test_a_sku_belongs_to_one_partition_by_key_and_by_stream() -> None:
    for count in (1, 2, 3, 7):
        partitions = [Partition(i, count) for i in range(count)]
        for sku in SKUS:
            key = (*MARKET, sku)
            owners = [p for p in partitions if p.owns(key)]
            assert len(owners) == 1
            assert owners[0].owns_stream(sku_stream(*key))
