"""partial pending indexes: only pending SKUs in the pending index of both SKU tables

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 01:00:00.000000

The queries that use these indexes ask for ``pending_since IS NOT NULL``: the batcher's
readiness queries, and the pending view for one arm of its ``OR`` (pending, or in a job;
PostgreSQL combines it with the job index). A full index on (account, marketplace,
pending_since) also matched a lookup by SKU on its first two columns, and on a table without
statistics yet (a new install's first minute) PostgreSQL ran the prefetch of the batcher and
of the projector through it: every row of the account read for each chunk of SKUs. As a
partial index it matches only the queries it is for.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("sku_state", "view_pending")
COLUMNS = ["account", "marketplace", "pending_since"]


def upgrade() -> None:
    pending = sa.text("pending_since IS NOT NULL")
    for table in TABLES:
        op.drop_index(f"ix_{table}_pending", table_name=table)
        op.create_index(
            f"ix_{table}_pending", table, COLUMNS, postgresql_where=pending, sqlite_where=pending
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_pending", table_name=table)
        op.create_index(f"ix_{table}_pending", table, COLUMNS)
