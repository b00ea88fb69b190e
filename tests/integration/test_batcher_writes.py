"""The batcher's write path: SKU states kept between its transactions, and duplicates.

Both are shortcuts taken for throughput (see ``store.WarmStates`` and ``Batcher.record``);
these tests hold them to the same results as the long way round.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from marketsync import demo
from marketsync.domain.events import ChangeRecorded, JobItem, JobReserved
from marketsync.eventlog import tables
from marketsync.eventlog.states import sku_from_row
from marketsync.eventlog.store import EventStore, WarmStates
from marketsync.projections.replay import verify
from marketsync.workers.batcher import Batcher
from tests.integration.jobs.shop import Shop

pytestmark = pytest.mark.integration


@pytest.fixture
def batcher(store: EventStore, database_url: str) -> Batcher:
    settings = demo.run_settings("amqp://unused", database_url, None, demo.credentials_env())
    return Batcher(store, settings)


def sku_row(store: EventStore, sku: str) -> Any:
    t = tables.sku_state
    with store.read() as connection:
        row = connection.execute(sa.select(t).where(t.c.sku == sku)).mappings().one()
    return sku_from_row(row)


def claim(store: EventStore, shop: Shop, sku: str, quantity: int) -> None:
    """Another writer (a second batcher replica) reserves job 1 for ``sku``."""
    reserved = JobReserved(
        at=2.0,
        job_id=1,
        account=shop.name,
        marketplace=shop.marketplace,
        job_type="update-qty",
        items=(JobItem(sku=sku, message_id=1, quantity=quantity, quantity_version=1),),
    )
    with store.write() as tx:
        tx.record(reserved)


def count_queries(store: EventStore, table: str) -> list[str]:
    """Every SELECT on ``table`` the engine runs from now on."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and table in statement:
            seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    return seen


def test_a_batch_after_the_batchers_own_does_not_read_the_skus_again(
    store: EventStore, batcher: Batcher
) -> None:
    shop = Shop()
    batcher.record([shop.changed(f"S{i}", quantity=i) for i in range(50)])
    reads = count_queries(store, "sku_state")
    batcher.record([shop.changed(f"S{i}", quantity=i + 100) for i in range(50)])
    assert reads == [], "the states it wrote itself were read again"
    assert sku_row(store, "S7").quantity == 107
    assert sku_row(store, "S7").stream_version == 2


def test_a_job_that_claimed_the_sku_in_between_is_seen(store: EventStore, batcher: Batcher) -> None:
    """Another writer (a second batcher replica) reserves a job for the SKU between two of
    this batcher's batches. The claim is an event of the job's stream, so no SKU stream
    version would collide: without the head check the batcher would fold onto its stale
    copy and write the SKU back out of the job."""
    shop = Shop()
    batcher.record([shop.changed("A", quantity=1)])
    claim(store, shop, "A", quantity=1)
    batcher.record([shop.changed("A", quantity=2)])
    state = sku_row(store, "A")
    assert (state.job_id, state.job_quantity, state.quantity) == (1, 1, 2)
    assert verify(store).clean


def test_a_change_written_by_anyone_else_in_between_is_seen(
    store: EventStore, batcher: Batcher
) -> None:
    shop = Shop()
    batcher.record([shop.changed("A", quantity=1)])
    other = ChangeRecorded(
        at=1.0, account=shop.name, marketplace=shop.marketplace, sku="A", version=50, price="9.99"
    )
    with store.write() as tx:  # an operator's tool, another replica: any other writer
        tx.record(other)
    batcher.record([shop.changed("A", quantity=2)])
    state = sku_row(store, "A")
    assert (state.quantity, state.price, state.stream_version) == (2, "9.99", 3)
    assert verify(store).clean


def test_a_failed_transaction_leaves_nothing_behind_in_the_kept_states(
    store: EventStore, batcher: Batcher
) -> None:
    shop = Shop()
    batcher.record([shop.changed("A", quantity=1)])
    with pytest.raises(RuntimeError), store.write(batcher.warm) as tx:
        tx.record(
            ChangeRecorded(
                at=1.0,
                account=shop.name,
                marketplace=shop.marketplace,
                sku="A",
                version=99,
                quantity=99,
            )
        )
        raise RuntimeError("crash before commit")
    batcher.record([shop.changed("A", quantity=2)])
    assert sku_row(store, "A").quantity == 2
    assert sku_row(store, "A").stream_version == 2


def test_duplicates_in_a_batch_are_recorded_once_and_the_rest_goes_in(
    store: EventStore, batcher: Batcher
) -> None:
    """A redelivered batch meets the unique event id: it is written again without the
    events the log already holds, so the new ones in it are not lost."""
    shop = Shop()
    first = [shop.changed(f"S{i}", quantity=i) for i in range(10)]
    batcher.record(first)
    again = [*first[:5], shop.changed("NEW", quantity=7), first[0]]
    result = batcher.record(again)
    assert (result.recorded, result.duplicates) == (1, 6)
    with store.read() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(tables.events))
        assert count.scalar_one() == 11
    assert sku_row(store, "NEW").quantity == 7
    assert verify(store).clean


def test_rows_written_column_by_column_equal_the_fold(store: EventStore, batcher: Batcher) -> None:
    """On SQLite a stored SKU row is updated in only the columns that changed, grouped by
    which ones. Batches of every kind of change, over the same SKUs, with a job claiming
    some in between: the rows equal a fold of the log from the start, column for column."""
    shop = Shop()
    skus = [f"S{i}" for i in range(12)]
    batcher.record([shop.changed(s, quantity=i) for i, s in enumerate(skus)])
    batcher.record([shop.changed(s, price=f"{i + 1}.50") for i, s in enumerate(skus[:6])])
    batcher.record([shop.listed(s, asin="B00TESTASN", quantity=3, price="4.00") for s in skus[6:9]])
    claim(store, shop, "S0", quantity=0)
    batcher.record(
        [
            shop.changed("S0", quantity=5, price="2.00"),
            shop.stopped("S9"),
            shop.removed("S10"),
            shop.changed("S11", quantity=1),
            shop.changed("NEW", quantity=2),
        ]
    )
    # one SKU changed twice in one batch, in different columns: both reach the row
    batcher.record([shop.changed("S1", quantity=9), shop.changed("S1", price="7.00")])
    assert (sku_row(store, "S1").quantity, sku_row(store, "S1").price) == (9, "7.00")
    assert sku_row(store, "S0").job_id == 1
    assert sku_row(store, "S9").status == "stopped"
    assert verify(store).clean


def test_a_kept_state_without_a_row_is_written_whole(store: EventStore) -> None:
    """A state the kept states hold though no row was ever written for it (looked up,
    found missing, never changed): its first change cannot be a narrow UPDATE of a row that
    is not there, and is written whole instead of being lost."""
    shop = Shop()
    warm = WarmStates()
    key = (shop.name, shop.marketplace, "GHOST")
    with store.write(warm) as tx:
        tx.states.prefetch([key])  # made up as new, never written
    assert key in warm.skus
    change = ChangeRecorded(
        at=3.0, account=shop.name, marketplace=shop.marketplace, sku="GHOST", version=1, quantity=4
    )
    with store.write(warm) as tx:
        tx.record(change)
    state = sku_row(store, "GHOST")
    assert (state.quantity, state.stream_version) == (4, 1)
    assert state == warm.skus[key]
    assert verify(store).clean
