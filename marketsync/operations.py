"""What an operator can do without the storefront: each a command recorded as an event.

Every function checks the current worker state and records its event in one write
transaction, so a command races with no worker: the job state machine refuses whatever no
longer fits (e.g. canceling a job a poller has just started submitting).

Errors::

    Refused      the command does not fit the current state; the message says why
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from marketsync.domain.events import (
    Event,
    JobAbandoned,
    JobEnded,
    ResendRequested,
    SellingStatusRequested,
)
from marketsync.domain.jobs import CANCELABLE, IllegalTransition, JobStatus
from marketsync.domain.sku import ACTIVE
from marketsync.eventlog import tables
from marketsync.eventlog.store import EventStore, WriteTx
from marketsync.settings import Settings


class Refused(Exception):
    """The command does not fit the current state."""


def _record(tx: WriteTx, event: Event) -> None:
    try:
        tx.record(event, metadata={"source": "operator"})
    except IllegalTransition as e:
        raise Refused(str(e)) from None


def cancel_job(store: EventStore, job_id: int) -> None:
    """Cancel a reserved or created job; its items return to pending as if it never was."""
    with store.write() as tx:
        job = tx.states.job(job_id)
        if job is None:
            raise Refused(f"there is no job {job_id}")
        if job.status not in CANCELABLE:
            raise Refused(
                f"job {job_id} is {job.status}: only reserved and created jobs can be canceled"
                + (
                    " (a stuck feed can be abandoned: marketsync jobs abandon)"
                    if job.status == JobStatus.WAITING
                    else ""
                )
            )
        _record(
            tx,
            JobEnded(
                at=time.time(), job_id=job_id, status="canceled", reason="canceled by an operator"
            ),
        )


def abandon_job(store: EventStore, job_id: int, reason: str = "") -> None:
    """Release a stuck job's items to new jobs; its feed is still watched to the end."""
    with store.write() as tx:
        job = tx.states.job(job_id)
        if job is None:
            raise Refused(f"there is no job {job_id}")
        if job.status != JobStatus.WAITING:
            raise Refused(
                f"job {job_id} is {job.status}: only a job waiting for Amazon's "
                "result can be abandoned"
            )
        _record(
            tx,
            JobAbandoned(
                at=time.time(), job_id=job_id, reason=reason or "abandoned by an operator"
            ),
        )


def _marketplaces(settings: Settings, account: str, marketplace: str | None) -> tuple[str, ...]:
    markets = settings.account(account).marketplaces
    if marketplace is None:
        return markets
    if marketplace not in markets:
        raise Refused(f"marketplace {marketplace} is not configured for account {account!r}")
    return (marketplace,)


def set_selling_status(
    store: EventStore,
    settings: Settings,
    account: str,
    sku: str,
    status: str,
    marketplace: str | None = None,
) -> int:
    """Stop, remove or relist a SKU in the account's marketplaces; how many were changed."""
    changed = 0
    with store.write() as tx:
        for market in _marketplaces(settings, account, marketplace):
            state = tx.states.sku((account, market, sku))
            if state.stream_version == 0:
                continue
            if status == ACTIVE and state.asin is None:
                raise Refused(f"{sku} was never listed with an ASIN: publish product.listed")
            _record(
                tx,
                SellingStatusRequested(
                    at=time.time(),
                    account=account,
                    marketplace=market,
                    sku=sku,
                    status=status,
                    source="operator",
                ),
            )
            changed += 1
    if not changed:
        raise Refused(f"account {account!r} has no SKU {sku!r}")
    return changed


def request_resend(
    store: EventStore, settings: Settings, account: str, sku: str | None = None
) -> int:
    """Queue current values of one SKU (or every SKU of the account) to be sent again."""
    settings.account(account)
    t = tables.sku_state
    with store.write() as tx:
        query = sa.select(t.c.marketplace, t.c.sku).where(t.c.account == account)
        if sku is not None:
            query = query.where(t.c.sku == sku)
        keys = [(account, m, s) for m, s in tx.connection.execute(query)]
        tx.states.prefetch(keys)
        for _, market, name in keys:
            _record(
                tx, ResendRequested(at=time.time(), account=account, marketplace=market, sku=name)
            )
    if not keys:
        raise Refused(
            f"account {account!r} has no SKU {sku!r}"
            if sku
            else f"account {account!r} has no SKUs yet"
        )
    return len(keys)
