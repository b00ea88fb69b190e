"""selling status, listing link, stuck and abandoned jobs, announced rates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:51:51.015192
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.add_column("job_state", sa.Column("submitted_at", sa.Float(), nullable=True))
    op.add_column(
        "job_state", sa.Column("stuck", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column(
        "job_state", sa.Column("abandoned", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("rate_buckets", sa.Column("announced_rate", sa.Float(), nullable=True))
    op.add_column("sku_state", sa.Column("asin", sa.String(length=20), nullable=True))
    op.add_column("sku_state", sa.Column("condition", sa.String(length=40), nullable=True))
    op.add_column(
        "sku_state",
        sa.Column("listing_version", sa.BigInteger(), server_default="-1", nullable=False),
    )
    op.add_column(
        "sku_state",
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
    )
    op.add_column(
        "sku_state",
        sa.Column("status_version", sa.BigInteger(), server_default="-1", nullable=False),
    )
    op.add_column(
        "sku_state", sa.Column("status_change", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("sku_state", sa.Column("job_action", sa.String(length=16), nullable=True))
    op.add_column(
        "sku_state",
        sa.Column("job_listing_version", sa.BigInteger(), server_default="-1", nullable=False),
    )
    op.add_column(
        "sku_state",
        sa.Column("job_status_change", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "sku_state",
        sa.Column("acked_listing_version", sa.BigInteger(), server_default="-1", nullable=False),
    )
    op.add_column(
        "sku_state",
        sa.Column("acked_status_change", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "sku_state",
        sa.Column("zeroed_status_change", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("sku_state", sa.Column("linked_since", sa.Float(), nullable=True))
    op.add_column(
        "sku_state", sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("view_jobs", sa.Column("submitted_at", sa.Float(), nullable=True))
    op.add_column(
        "view_jobs", sa.Column("stuck", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column(
        "view_jobs", sa.Column("abandoned", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("view_pending", sa.Column("asin", sa.String(length=20), nullable=True))
    op.add_column("view_pending", sa.Column("condition", sa.String(length=40), nullable=True))
    op.add_column(
        "view_pending",
        sa.Column("listing_version", sa.BigInteger(), server_default="-1", nullable=False),
    )
    op.add_column(
        "view_pending",
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
    )
    op.add_column(
        "view_pending",
        sa.Column("status_version", sa.BigInteger(), server_default="-1", nullable=False),
    )
    op.add_column(
        "view_pending", sa.Column("status_change", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("view_pending", sa.Column("job_action", sa.String(length=16), nullable=True))
    op.add_column(
        "view_pending",
        sa.Column("job_listing_version", sa.BigInteger(), server_default="-1", nullable=False),
    )
    op.add_column(
        "view_pending",
        sa.Column("job_status_change", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "view_pending",
        sa.Column("acked_listing_version", sa.BigInteger(), server_default="-1", nullable=False),
    )
    op.add_column(
        "view_pending",
        sa.Column("acked_status_change", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "view_pending",
        sa.Column("zeroed_status_change", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("view_pending", sa.Column("linked_since", sa.Float(), nullable=True))
    op.add_column(
        "view_pending",
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:

    op.drop_column("view_pending", "deleted")
    op.drop_column("view_pending", "linked_since")
    op.drop_column("view_pending", "zeroed_status_change")
    op.drop_column("view_pending", "acked_status_change")
    op.drop_column("view_pending", "acked_listing_version")
    op.drop_column("view_pending", "job_status_change")
    op.drop_column("view_pending", "job_listing_version")
    op.drop_column("view_pending", "job_action")
    op.drop_column("view_pending", "status_change")
    op.drop_column("view_pending", "status_version")
    op.drop_column("view_pending", "status")
    op.drop_column("view_pending", "listing_version")
    op.drop_column("view_pending", "condition")
    op.drop_column("view_pending", "asin")
    op.drop_column("view_jobs", "abandoned")
    op.drop_column("view_jobs", "stuck")
    op.drop_column("view_jobs", "submitted_at")
    op.drop_column("sku_state", "deleted")
    op.drop_column("sku_state", "linked_since")
    op.drop_column("sku_state", "zeroed_status_change")
    op.drop_column("sku_state", "acked_status_change")
    op.drop_column("sku_state", "acked_listing_version")
    op.drop_column("sku_state", "job_status_change")
    op.drop_column("sku_state", "job_listing_version")
    op.drop_column("sku_state", "job_action")
    op.drop_column("sku_state", "status_change")
    op.drop_column("sku_state", "status_version")
    op.drop_column("sku_state", "status")
    op.drop_column("sku_state", "listing_version")
    op.drop_column("sku_state", "condition")
    op.drop_column("sku_state", "asin")
    op.drop_column("rate_buckets", "announced_rate")
    op.drop_column("job_state", "abandoned")
    op.drop_column("job_state", "stuck")
    op.drop_column("job_state", "submitted_at")
