"""What replicas share besides the log: token buckets and job leases.

Both live in the database so that every replica sees the same buckets (invariant 5) and a
job is driven by one poller at a time; both are updated inside the caller's write
transaction, under the store-wide lock.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from marketsync.domain.jobs import FINAL, JobState, JobStatus
from marketsync.domain.token_bucket import Bucket
from marketsync.eventlog import tables
from marketsync.eventlog.states import job_from_row, upsert
from marketsync.settings import Limit

ACTIVE = tuple(status for status in JobStatus if status not in FINAL)


def _load_bucket(
    connection: Connection, account: str, operation: str, limit: Limit, now: float
) -> Bucket:
    t = tables.rate_buckets
    row = (
        connection.execute(sa.select(t).where(t.c.account == account, t.c.operation == operation))
        .mappings()
        .first()
    )
    if row is None:
        return Bucket.full(limit.rate, limit.burst, now)
    bucket = Bucket(
        rate=row["rate"], burst=row["burst"], tokens=row["tokens"], updated_at=row["updated_at"]
    )
    rate = min(limit.rate, row["announced_rate"] or limit.rate)  # Amazon's lower word wins
    if (bucket.rate, bucket.burst) != (rate, limit.burst):
        bucket = bucket.adapted(rate=rate, burst=limit.burst)
    return bucket


def _save_bucket(
    connection: Connection,
    account: str,
    operation: str,
    bucket: Bucket,
    announced_rate: float | None = None,
) -> None:
    row = {
        "account": account,
        "operation": operation,
        "rate": bucket.rate,
        "burst": bucket.burst,
        "tokens": bucket.tokens,
        "updated_at": bucket.updated_at,
    }
    if announced_rate is not None:
        row["announced_rate"] = announced_rate
    t = tables.rate_buckets
    exists = connection.execute(
        sa.select(t.c.account).where(t.c.account == account, t.c.operation == operation)
    ).first()
    if exists:
        connection.execute(
            t.update().where(t.c.account == account, t.c.operation == operation).values(**row)
        )
    else:
        connection.execute(t.insert().values(**row))


def announce(
    connection: Connection,
    account: str,
    operation: str,
    rate: float,
    limit: Limit,
    now: float,
) -> None:
    """Amazon announced ``rate`` for this operation: the bucket runs at it from now on."""
    bucket = _load_bucket(connection, account, operation, limit, now).adapted(rate=rate)
    _save_bucket(connection, account, operation, bucket, announced_rate=rate)


def take_tokens(
    connection: Connection, account: str, limits: Mapping[str, Limit], now: float
) -> float:
    """Take one token from each bucket named in ``limits``, all or none.

    Returns 0.0 when taken, else the seconds until all of them will be there.
    """
    buckets = {op: _load_bucket(connection, account, op, lim, now) for op, lim in limits.items()}
    wait = max(b.wait_for(now) for b in buckets.values())
    if wait > 0:
        return wait
    for operation, bucket in buckets.items():
        _, after = bucket.try_take(now)
        _save_bucket(connection, account, operation, after)
    return 0.0


def tokens_wait(
    connection: Connection, account: str, limits: Mapping[str, Limit], now: float
) -> float:
    """Seconds until one token is in every bucket named (0.0: now), taking none."""
    return max(
        _load_bucket(connection, account, op, lim, now).wait_for(now) for op, lim in limits.items()
    )


def drain(connection: Connection, account: str, operation: str, limit: Limit, now: float) -> None:
    """Amazon answered 429: its bucket is empty whatever we counted."""
    bucket = _load_bucket(connection, account, operation, limit, now)
    _save_bucket(connection, account, operation, bucket.drained(now))


def claim_jobs(
    connection: Connection, owner: str, now: float, lease: float, limit: int
) -> list[JobState]:
    """Unfinished jobs that are due and not leased by another poller; lease them to ``owner``."""
    jobs, schedule = tables.job_state, tables.job_schedule
    query = (
        sa.select(jobs)
        .outerjoin(schedule, schedule.c.job_id == jobs.c.job_id)
        .where(jobs.c.status.in_([s.value for s in ACTIVE]))
        .where(
            sa.or_(
                schedule.c.job_id.is_(None),
                schedule.c.lease_until <= now,
                schedule.c.owner == owner,
            )
        )
        .where(sa.or_(schedule.c.job_id.is_(None), schedule.c.next_check_at <= now))
        .order_by(jobs.c.job_id)
        .limit(limit)
    )
    claimed = [job_from_row(row) for row in connection.execute(query).mappings()]
    upsert(
        connection,
        schedule,
        [
            {"job_id": j.job_id, "owner": owner, "lease_until": now + lease, "next_check_at": now}
            for j in claimed
        ],
    )
    return claimed


def reschedule(connection: Connection, job_id: int, next_check_at: float) -> None:
    """Release the lease; the job is due again at ``next_check_at``."""
    upsert(
        connection,
        tables.job_schedule,
        [{"job_id": job_id, "owner": None, "lease_until": 0.0, "next_check_at": next_check_at}],
    )
