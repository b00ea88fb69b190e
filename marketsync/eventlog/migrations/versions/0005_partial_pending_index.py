"""partial pending index: the batcher's index on sku_state holds only pending SKUs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 01:00:00.000000

The readiness queries always ask for ``pending_since IS NOT NULL``. A full index on
(account, marketplace, pending_since) also matched a lookup by SKU on its first two
columns, and on a table without statistics yet (a new install's first minute) PostgreSQL
ran the batcher's prefetch through it: every row of the account read for each chunk of
SKUs. As a partial index it matches only the readiness queries.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = "ix_sku_state_pending"
COLUMNS = ["account", "marketplace", "pending_since"]


def upgrade() -> None:
    op.drop_index(NAME, table_name="sku_state")
    pending = sa.text("pending_since IS NOT NULL")
    op.create_index(NAME, "sku_state", COLUMNS, postgresql_where=pending, sqlite_where=pending)


def downgrade() -> None:
    op.drop_index(NAME, table_name="sku_state")
    op.create_index(NAME, "sku_state", COLUMNS)
