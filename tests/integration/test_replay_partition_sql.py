"""The auditor's partitions, as the database hands them out: each process is given exactly its
own SKUs' events (the database applies :meth:`Partition.where` to the shard the log stores)
and every job event, on SQLite and on PostgreSQL, whatever characters a SKU's name holds."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketsync.domain.events import (
    ChangeRecorded,
    JobEnded,
    JobItem,
    JobReserved,
    stream_shard,
)
from marketsync.domain.memory_states import MemoryStates
from marketsync.eventlog import tables
from marketsync.eventlog.store import EventStore, head
from marketsync.projections.replay import Partition, PartitionStates, replay

pytestmark = pytest.mark.integration

# Last characters of every kind: digits, letters of both cases, punctuation, a colon (a
# stream's separator), letters outside ASCII, a character outside the Basic Multilingual
# Plane (four bytes in UTF-8, two code units in UTF-16), and a one-letter name.
SKUS = [f"SKU-{n:03d}" for n in range(12)] + [
    "TEE-RED-XL",
    "TEE-RED-s",
    "odd:sku:",
    "größe-ü",
    "prix-€",
    "emoji-🙂",
    "Z",
]
ACCOUNT, MARKETPLACE = "acc", "MP"


def _write_log(store: EventStore) -> None:
    with store.write() as tx:
        for version in (1, 2):
            for number, sku in enumerate(SKUS):
                tx.record(
                    ChangeRecorded(
                        at=float(version),
                        account=ACCOUNT,
                        marketplace=MARKETPLACE,
                        sku=sku,
                        version=version,
                        quantity=number + version,
                    )
                )
        carried = SKUS[::3]
        tx.record(
            JobReserved(
                at=3.0,
                job_id=1,
                account=ACCOUNT,
                marketplace=MARKETPLACE,
                job_type="update-qty",
                items=tuple(
                    JobItem(sku=s, message_id=i + 1, quantity=1, quantity_version=2)
                    for i, s in enumerate(carried)
                ),
            )
        )
        tx.record(JobEnded(at=4.0, job_id=1, status="error", reason="test", retry_at=60.0))


@pytest.mark.parametrize("count", [2, 3, 7])
def test_each_partition_is_handed_exactly_its_own_skus_and_every_job(
    store: EventStore, count: int
) -> None:
    _write_log(store)
    with store.read() as connection:
        up_to = head(connection)
        whole = MemoryStates()
        assert replay(connection, whole, 0, up_to) == up_to
        parts = [PartitionStates(Partition(i, count)) for i in range(count)]
        folded = [replay(connection, part, 0, up_to, part.partition) for part in parts]

    job_events = 2
    union: dict[object, object] = {}
    for part, events in zip(parts, folded, strict=True):
        mine = {key for key in whole.skus if part.partition.owns(key)}
        assert set(part.skus) == mine, part.partition
        assert events == 2 * len(mine) + job_events  # the database left out the others
        assert part.jobs == whole.jobs
        union.update(part.skus)
    assert union == whole.skus
    assert len(whole.skus) == len(SKUS)


def test_the_log_stores_each_sku_events_shard_and_none_for_a_jobs(store: EventStore) -> None:
    _write_log(store)
    with store.read() as connection:
        rows = connection.execute(sa.select(tables.events.c.stream, tables.events.c.shard)).all()
    assert len(rows) == 2 * len(SKUS) + 2
    for stream, shard in rows:
        assert shard == stream_shard(stream), stream
        assert (shard is None) == stream.startswith("job:"), stream
