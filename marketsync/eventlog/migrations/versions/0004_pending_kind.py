"""pending kind: the job kind a pending SKU waits for, for the batcher's readiness query

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 16:20:00.000000

The column is derived from the rest of the row (``batching.job_kind``); existing rows are
filled in here with the same function the code writes it with.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("sku_state", "view_pending")


def upgrade() -> None:
    from marketsync.domain.batching import job_kind
    from marketsync.eventlog.states import sku_from_row

    for name in TABLES:
        op.add_column(name, sa.Column("pending_kind", sa.String(length=16), nullable=True))
    bind = op.get_bind()
    for name in TABLES:
        table = sa.Table(name, sa.MetaData(), autoload_with=bind)
        pending = sa.select(table).where(table.c.pending_since.is_not(None))
        kinds = [
            {"a": row["account"], "m": row["marketplace"], "s": row["sku"], "kind": kind}
            for row in bind.execute(pending).mappings()
            if (kind := job_kind(sku_from_row(row))) is not None
        ]
        if kinds:
            keys = table.c.account, table.c.marketplace, table.c.sku
            update = (
                table.update()
                .where(*(c == sa.bindparam(p) for c, p in zip(keys, "ams", strict=True)))
                .values(pending_kind=sa.bindparam("kind"))
            )
            bind.execute(update, kinds)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_column(name, "pending_kind")
