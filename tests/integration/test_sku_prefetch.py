"""The prefetch of SKU rows (the batcher's on sku_state, the projector's on view_pending)
reads them by key, on a table of any size, with or without the database's statistics
(``states.select_skus``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from marketsync.domain.sku import new_sku
from marketsync.eventlog import tables
from marketsync.eventlog.database import create_engine, migrate
from marketsync.eventlog.states import select_skus, upsert_skus
from marketsync.eventlog.store import EventStore

pytestmark = pytest.mark.integration

ACCOUNT, MARKETPLACE = "acme-us", "ATVPDKIKX0DER"
STORED = [f"SKU-{n:06d}" for n in range(20_000)]


def fill(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        for table in (tables.sku_state, tables.view_pending):
            upsert_skus(connection, table, (new_sku(ACCOUNT, MARKETPLACE, s) for s in STORED))
            upsert_skus(connection, table, [new_sku("other", MARKETPLACE, "SKU-000001")])


@pytest.fixture
def unanalyzed(postgres_url: str) -> Iterator[sa.Engine]:
    """A migrated PostgreSQL database whose SKU table has rows but no statistics yet, as in
    a new install's first minute (autovacuum is kept away from it)."""
    engine = create_engine(postgres_url)
    migrate(engine)
    with engine.begin() as connection:
        for table in ("sku_state", "view_pending"):
            connection.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    fill(engine)
    yield engine
    engine.dispose()


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


@pytest.mark.parametrize("table", [tables.sku_state, tables.view_pending], ids=lambda t: t.name)
def test_each_sku_is_one_probe_of_the_primary_key_without_statistics(
    unanalyzed: sa.Engine, table: sa.Table
) -> None:
    """The batcher's prefetch (sku_state) and the projector's (view_pending)."""
    wanted = STORED[::80] + [f"NEW-{n}" for n in range(250)]  # 250 stored, 250 not
    query = select_skus(table, ACCOUNT, MARKETPLACE, wanted, "postgresql")
    with unanalyzed.connect() as connection:
        assert connection.exec_driver_sql(
            "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = %s",
            (table.name,),
        ).one() == (None, None)
        compiled = query.compile(dialect=connection.dialect)
        explained = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled.string}", compiled.params
        ).scalar_one()
    scans = [n for n in plan_nodes(explained[0]["Plan"]) if n.get("Relation Name") == table.name]
    assert [(n["Node Type"], n["Index Name"]) for n in scans] == [
        ("Index Scan", f"{table.name}_pkey")
    ]
    (scan,) = scans
    assert scan["Actual Loops"] == len(wanted)  # one probe per SKU
    assert scan.get("Rows Removed by Filter", 0) == 0  # and no row read beyond it
    assert explained[0]["Plan"]["Actual Rows"] == 250


def test_the_rows_asked_for_and_only_those(store: EventStore) -> None:
    fill(store.engine)
    wanted = ["SKU-000001", "SKU-019999", "NEW-1", "SKU-000001"[:-1]]
    dialect = store.engine.dialect.name
    query = select_skus(tables.sku_state, ACCOUNT, MARKETPLACE, wanted, dialect)
    with store.read() as connection:
        rows = connection.execute(query).all()
    assert sorted(tuple(r) for r in rows) == sorted(
        tuple(new_sku(ACCOUNT, MARKETPLACE, s)) for s in ("SKU-000001", "SKU-019999")
    )
