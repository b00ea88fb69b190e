"""event shard: each event's stream hashed, for replay's partitions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 04:00:00.000000

``events.shard`` is ``events.stream_shard(stream)``: the CRC-32 of a SKU stream, NULL for a
job's. The events already in the log get theirs here, computed by the same function the code
writes it with, a batch of positions at a time.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 10_000


def upgrade() -> None:
    from marketsync.domain.events import SKU_STREAM, stream_shard

    op.add_column("events", sa.Column("shard", sa.Integer(), nullable=True))
    bind = op.get_bind()
    events = sa.table("events", sa.column("position"), sa.column("stream"), sa.column("shard"))
    update = (
        events.update()
        .where(events.c.position == sa.bindparam("at"))
        .values(shard=sa.bindparam("hash"))
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(events.c.position, events.c.stream)
            .where(events.c.position > after, events.c.stream.startswith(SKU_STREAM))
            .order_by(events.c.position)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(update, [{"at": p, "hash": stream_shard(s)} for p, s in rows])
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_column("events", "shard")
