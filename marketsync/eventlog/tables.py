"""The SQL tables (SQLAlchemy Core). This package is the only one that imports SQLAlchemy.

* ``events``: the append-only log, the system of record.
* ``sku_state``, ``job_state``: the workers' state, updated in the same transaction as the
  events that change it.
* ``view_pending``, ``view_jobs``: the projector's read models, each with its checkpoint in
  ``checkpoints``; same shape as the worker state because the same fold builds them.
* ``rate_buckets``, ``job_schedule``: coordination between replicas (token buckets, leases
  and poll times). They are not derived from the log and replay does not rebuild them.

Schema changes go through Alembic (``migrations/``); a test holds the two in step.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("stream", sa.String(400), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("metadata", Json, nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
    # events.stream_shard(stream): a SKU stream's hash, None for a job's; replay's partitions
    # select by it (projections.replay.Partition)
    sa.Column("shard", sa.Integer),
    sa.UniqueConstraint("stream", "version", name="uq_events_stream_version"),
    sqlite_autoincrement=True,
)


def _sku_columns() -> list[sa.Column[object]]:
    text, big = sa.String(200), sa.BigInteger
    return [
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("marketplace", sa.String(20), primary_key=True),
        sa.Column("sku", text, primary_key=True),
        sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("quantity", big),
        sa.Column("quantity_version", big, nullable=False),
        sa.Column("price", sa.String(20)),
        sa.Column("currency", sa.String(3)),
        sa.Column("price_version", big, nullable=False),
        sa.Column("asin", sa.String(20)),
        sa.Column("condition", sa.String(40)),
        sa.Column("listing_version", big, nullable=False, server_default="-1"),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("status_version", big, nullable=False, server_default="-1"),
        sa.Column("status_change", sa.Integer, nullable=False, server_default="0"),
        sa.Column("job_id", big),
        sa.Column("job_action", sa.String(16)),
        sa.Column("job_quantity", big),
        sa.Column("job_quantity_version", big, nullable=False),
        sa.Column("job_price", sa.String(20)),
        sa.Column("job_currency", sa.String(3)),
        sa.Column("job_price_version", big, nullable=False),
        sa.Column("job_listing_version", big, nullable=False, server_default="-1"),
        sa.Column("job_status_change", sa.Integer, nullable=False, server_default="0"),
        sa.Column("acked_quantity", big),
        sa.Column("acked_quantity_version", big, nullable=False),
        sa.Column("acked_price", sa.String(20)),
        sa.Column("acked_currency", sa.String(3)),
        sa.Column("acked_price_version", big, nullable=False),
        sa.Column("acked_listing_version", big, nullable=False, server_default="-1"),
        sa.Column("acked_status_change", sa.Integer, nullable=False, server_default="0"),
        sa.Column("zeroed_status_change", sa.Integer, nullable=False, server_default="0"),
        sa.Column("linked_since", sa.Float),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("resend_owed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error_code", sa.String(200)),
        sa.Column("last_error_message", sa.Text),
        sa.Column("not_before", sa.Float, nullable=False),
        sa.Column("pending_since", sa.Float),
        sa.Column("changed_at", sa.Float, nullable=False),
        # derived, not part of SkuState: the job kind it waits for (batching.job_kind), so
        # that the batcher can tell in one aggregate query whether a job is ready
        sa.Column("pending_kind", sa.String(16)),
    ]


def _job_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("marketplace", sa.String(20), nullable=False),
        sa.Column("job_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("feed_type", sa.String(64)),
        sa.Column("document_sha256", sa.String(64)),
        sa.Column("document_id", sa.String(200)),
        sa.Column("feed_id", sa.String(200)),
        sa.Column("feed_status", sa.String(32)),
        sa.Column("error", sa.Text),
        sa.Column("deferrals", sa.Integer, nullable=False),
        sa.Column("retry_streak", sa.Integer, nullable=False, server_default="0"),
        sa.Column("create_feed_calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("submitted_at", sa.Float),
        sa.Column("stuck", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("abandoned", sa.Boolean, nullable=False, server_default=sa.false()),
    ]


sku_state = sa.Table("sku_state", metadata, *_sku_columns())
view_pending = sa.Table("view_pending", metadata, *_sku_columns())
job_state = sa.Table("job_state", metadata, *_job_columns())
view_jobs = sa.Table("view_jobs", metadata, *_job_columns())

for _t in (sku_state, view_pending):
    sa.Index(f"ix_{_t.name}_job", _t.c.job_id)
    # Only pending SKUs, what every query that uses it asks for: smaller, and of no use to
    # a lookup by SKU, which PostgreSQL would otherwise run through its first two columns
    # (a filter over every row of the account) on a table it has no statistics for yet.
    _pending = _t.c.pending_since.is_not(None)
    sa.Index(
        f"ix_{_t.name}_pending",
        _t.c.account,
        _t.c.marketplace,
        _t.c.pending_since,
        postgresql_where=_pending,
        sqlite_where=_pending,
    )
for _t in (job_state, view_jobs):
    sa.Index(f"ix_{_t.name}_status", _t.c.status)
    sa.Index(f"ix_{_t.name}_account", _t.c.account, _t.c.created_at)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("operation", sa.String(64), primary_key=True),
    sa.Column("rate", sa.Float, nullable=False),
    sa.Column("burst", sa.Float, nullable=False),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("announced_rate", sa.Float),  # a lower rate Amazon announced; wins over config
)

job_schedule = sa.Table(
    "job_schedule",
    metadata,
    sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("owner", sa.String(100)),
    sa.Column("lease_until", sa.Float, nullable=False),
    sa.Column("next_check_at", sa.Float, nullable=False),
)

STATE_TABLES = {"skus": sku_state, "jobs": job_state}
VIEW_TABLES = {"skus": view_pending, "jobs": view_jobs}
