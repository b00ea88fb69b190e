"""event log, worker state, views, coordination

Revision ID: 0001
Revises:
Create Date: 2026-11-26 12:39:47.727037
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "events",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=400), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("schema_version", sa.SmallInteger(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("event_id"),
        sa.UniqueConstraint("stream", "version", name="uq_events_stream_version"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "job_schedule",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.Column("next_check_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_table(
        "job_state",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("marketplace", sa.String(length=20), nullable=False),
        sa.Column("job_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("stream_version", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("feed_type", sa.String(length=64), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=True),
        sa.Column("document_id", sa.String(length=200), nullable=True),
        sa.Column("feed_id", sa.String(length=200), nullable=True),
        sa.Column("feed_status", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("deferrals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_job_state_account", "job_state", ["account", "created_at"], unique=False)
    op.create_index("ix_job_state_status", "job_state", ["status"], unique=False)
    op.create_table(
        "rate_buckets",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("burst", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account", "operation"),
    )
    op.create_table(
        "sku_state",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("marketplace", sa.String(length=20), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("stream_version", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=True),
        sa.Column("quantity_version", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.String(length=20), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("price_version", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("job_quantity", sa.BigInteger(), nullable=True),
        sa.Column("job_quantity_version", sa.BigInteger(), nullable=False),
        sa.Column("job_price", sa.String(length=20), nullable=True),
        sa.Column("job_currency", sa.String(length=3), nullable=True),
        sa.Column("job_price_version", sa.BigInteger(), nullable=False),
        sa.Column("acked_quantity", sa.BigInteger(), nullable=True),
        sa.Column("acked_quantity_version", sa.BigInteger(), nullable=False),
        sa.Column("acked_price", sa.String(length=20), nullable=True),
        sa.Column("acked_currency", sa.String(length=3), nullable=True),
        sa.Column("acked_price_version", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error_code", sa.String(length=200), nullable=True),
        sa.Column("last_error_message", sa.Text(), nullable=True),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("pending_since", sa.Float(), nullable=True),
        sa.Column("changed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account", "marketplace", "sku"),
    )
    op.create_index("ix_sku_state_job", "sku_state", ["job_id"], unique=False)
    op.create_index(
        "ix_sku_state_pending",
        "sku_state",
        ["account", "marketplace", "pending_since"],
        unique=False,
    )
    op.create_table(
        "view_jobs",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("marketplace", sa.String(length=20), nullable=False),
        sa.Column("job_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("stream_version", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("feed_type", sa.String(length=64), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=True),
        sa.Column("document_id", sa.String(length=200), nullable=True),
        sa.Column("feed_id", sa.String(length=200), nullable=True),
        sa.Column("feed_status", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("deferrals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_view_jobs_account", "view_jobs", ["account", "created_at"], unique=False)
    op.create_index("ix_view_jobs_status", "view_jobs", ["status"], unique=False)
    op.create_table(
        "view_pending",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("marketplace", sa.String(length=20), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("stream_version", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=True),
        sa.Column("quantity_version", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.String(length=20), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("price_version", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("job_quantity", sa.BigInteger(), nullable=True),
        sa.Column("job_quantity_version", sa.BigInteger(), nullable=False),
        sa.Column("job_price", sa.String(length=20), nullable=True),
        sa.Column("job_currency", sa.String(length=3), nullable=True),
        sa.Column("job_price_version", sa.BigInteger(), nullable=False),
        sa.Column("acked_quantity", sa.BigInteger(), nullable=True),
        sa.Column("acked_quantity_version", sa.BigInteger(), nullable=False),
        sa.Column("acked_price", sa.String(length=20), nullable=True),
        sa.Column("acked_currency", sa.String(length=3), nullable=True),
        sa.Column("acked_price_version", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error_code", sa.String(length=200), nullable=True),
        sa.Column("last_error_message", sa.Text(), nullable=True),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("pending_since", sa.Float(), nullable=True),
        sa.Column("changed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account", "marketplace", "sku"),
    )
    op.create_index("ix_view_pending_job", "view_pending", ["job_id"], unique=False)
    op.create_index(
        "ix_view_pending_pending",
        "view_pending",
        ["account", "marketplace", "pending_since"],
        unique=False,
    )


def downgrade() -> None:

    op.drop_index("ix_view_pending_pending", table_name="view_pending")
    op.drop_index("ix_view_pending_job", table_name="view_pending")
    op.drop_table("view_pending")
    op.drop_index("ix_view_jobs_status", table_name="view_jobs")
    op.drop_index("ix_view_jobs_account", table_name="view_jobs")
    op.drop_table("view_jobs")
    op.drop_index("ix_sku_state_pending", table_name="sku_state")
    op.drop_index("ix_sku_state_job", table_name="sku_state")
    op.drop_table("sku_state")
    op.drop_table("rate_buckets")
    op.drop_index("ix_job_state_status", table_name="job_state")
    op.drop_index("ix_job_state_account", table_name="job_state")
    op.drop_table("job_state")
    op.drop_table("job_schedule")
    op.drop_table("events")
    op.drop_table("checkpoints")
