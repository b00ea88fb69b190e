"""A SKU state written to its table reads back exactly as it was, whatever its values: the
bulk writes format every column themselves (binary COPY on PostgreSQL, plain tuples on
SQLite), so each kind of value goes through them here, at its limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from marketsync.domain.batching import job_kind
from marketsync.domain.sku import STOPPED, SkuState, new_sku
from marketsync.eventlog import tables
from marketsync.eventlog.database import create_engine, migrate
from marketsync.eventlog.states import insert_skus, sku_columns, upsert_skus
from marketsync.eventlog.store import EventStore

pytestmark = pytest.mark.integration

BIG = 2**62  # a version or job id beyond 32 bits
ODD_TEXT = "tab\there, new\nline, back\\slash, quote\" and 'single', NUL-free 🙂 ü €"


def _states() -> list[SkuState]:
    bare = new_sku("acc", "MP", "bare")  # defaults: every nullable column empty
    full = new_sku("acc", "MP", "full-ß-🙂")._replace(
        stream_version=2**31 - 1,
        quantity=BIG,
        quantity_version=BIG,
        price="123456.78",
        currency="EUR",
        price_version=BIG - 1,
        asin="B000000001",
        condition="new_new",
        listing_version=7,
        status=STOPPED,
        status_version=8,
        status_change=3,
        job_id=BIG,
        job_action="update",
        job_quantity=0,
        job_quantity_version=BIG,
        job_price="0.01",
        job_currency="JPY",
        job_price_version=5,
        job_listing_version=6,
        job_status_change=2,
        acked_quantity=-1,
        acked_quantity_version=4,
        acked_price="9.99",
        acked_currency="USD",
        acked_price_version=3,
        acked_listing_version=2,
        acked_status_change=1,
        zeroed_status_change=1,
        linked_since=1.5e9 + 0.123456789,
        deleted=True,
        resend_owed=True,
        attempts=2**31 - 1,
        last_error_code="8541",
        last_error_message=ODD_TEXT,
        not_before=1.7976931348623157e308,
        pending_since=5e-324,
        changed_at=1796597319.7519145,
    )
    return [bare, full]


def _read(store: EventStore, table: sa.Table) -> dict[str, SkuState]:
    with store.read() as connection:
        rows = connection.execute(sa.select(*sku_columns(table)))
        return {row.sku: SkuState._make(row) for row in rows}


@pytest.mark.parametrize("table", [tables.sku_state, tables.view_pending], ids=lambda t: t.name)
def test_every_value_reads_back_as_written(store: EventStore, table: sa.Table) -> None:
    bare, full = _states()
    with store.write() as tx:
        insert_skus(tx.connection, table, [bare])
        upsert_skus(tx.connection, table, [full])
    assert _read(store, table) == {bare.sku: bare, full.sku: full}

    # an upsert over stored rows: each column swapped between empty and set
    swapped = {bare.sku: full._replace(sku=bare.sku), full.sku: bare._replace(sku=full.sku)}
    with store.write() as tx:
        upsert_skus(tx.connection, table, swapped.values())
    read = _read(store, table)
    assert read == swapped
    for sku, state in read.items():  # a bool as a bool, not as 1 (which equals True)
        assert [type(v) for v in state] == [type(v) for v in swapped[sku]], sku


def test_rows_inserted_in_chunks_are_all_written(store: EventStore) -> None:
    """The scratch insert goes ``chunk`` rows at a time: the last, shorter chunk too."""
    states = [new_sku("acc", "MP", f"sku-{i}")._replace(quantity=i) for i in range(7)]
    with store.write() as tx:
        insert_skus(tx.connection, tables.view_pending, iter(states), chunk=3)
    assert _read(store, tables.view_pending) == {s.sku: s for s in states}


def _shapes() -> list[SkuState]:
    """A SKU of each shape the scratch insert tells apart: never sent (only just changed),
    at rest (accepted and linked, no job, no error), and neither (the full one: in a job)."""
    never_sent = new_sku("acc", "MP", "never-sent")._replace(
        stream_version=1, quantity=3, quantity_version=1, pending_since=2.5, changed_at=2.5
    )
    at_rest = new_sku("acc", "MP", "at-rest")._replace(
        stream_version=3,
        quantity=5,
        quantity_version=2,
        price="9.99",
        currency="EUR",
        price_version=2,
        asin="B000000001",
        condition="new_new",
        listing_version=1,
        acked_quantity=5,
        acked_quantity_version=2,
        acked_price="9.99",
        acked_currency="EUR",
        acked_price_version=2,
        acked_listing_version=1,
        linked_since=1.5e9,
        changed_at=1.6e9,
    )
    return [*_states(), never_sent, at_rest]


@pytest.mark.parametrize("table", [tables.sku_state, tables.view_pending], ids=lambda t: t.name)
def test_rows_of_every_shape_are_inserted_exactly(store: EventStore, table: sa.Table) -> None:
    states = _shapes()
    with store.write() as tx:
        insert_skus(tx.connection, table, states)
    read = _read(store, table)
    assert read == {s.sku: s for s in states}
    for state in states:
        assert [type(v) for v in read[state.sku]] == [type(v) for v in state], state.sku
    with store.read() as connection:
        kinds = dict(connection.execute(sa.select(table.c.sku, table.c.pending_kind)).all())
    assert kinds == {s.sku: job_kind(s) for s in states}


def test_sqlite_writes_the_defaults_of_quiet_rows_as_literals(tmp_path: Path) -> None:
    """A row at rest or never sent binds none of its None and False defaults: the statement
    carries them (``sqlite3`` would look up an adapter for each). SQLite's INSERT only:
    PostgreSQL copies rows in its binary format."""
    engine = create_engine(f"sqlite:///{tmp_path / 'quiet.db'}")
    migrate(engine)
    store = EventStore(engine)
    values: list[str] = []  # each INSERT's VALUES, as sent to the driver

    def sent(*args: Any) -> None:
        if args[2].startswith("INSERT"):
            values.append(args[2].split(" VALUES ")[1])

    with store.write() as tx:
        sa.event.listen(tx.connection, "before_cursor_execute", sent)
        insert_skus(tx.connection, tables.view_pending, _shapes())
        sa.event.remove(tx.connection, "before_cursor_execute", sent)
    engine.dispose()
    literals = sorted((v.count("NULL"), v.count("0"), v.count("?")) for v in values)
    assert literals == [(0, 0, 42), (7, 2, 33), (13, 2, 27)]  # whole, at rest, never sent
