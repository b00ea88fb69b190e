"""resend owed, retry streak, createFeed calls

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 13:37:51.712663
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.add_column(
        "job_state", sa.Column("retry_streak", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "job_state",
        sa.Column("create_feed_calls", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "sku_state",
        sa.Column("resend_owed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "view_jobs", sa.Column("retry_streak", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "view_jobs",
        sa.Column("create_feed_calls", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "view_pending",
        sa.Column("resend_owed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:

    op.drop_column("view_pending", "resend_owed")
    op.drop_column("view_jobs", "create_feed_calls")
    op.drop_column("view_jobs", "retry_streak")
    op.drop_column("sku_state", "resend_owed")
    op.drop_column("job_state", "create_feed_calls")
    op.drop_column("job_state", "retry_streak")
