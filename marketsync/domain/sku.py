"""The pending queue's heart: what each SKU should be on Amazon, and what Amazon has accepted.

One :class:`SkuState` per (account, marketplace, SKU). Each field (quantity, price) keeps
three versions: the newest the storefront sent (``*_version``), the one an unfinished job
carries (``job_*_version``) and the newest Amazon accepted (``acked_*_version``). A SKU is
*pending* while a field's newest version is above the accepted one. Folding is pure and
order-independent for changes: the newest version per field wins, duplicates change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from marketsync.domain.events import (
    ChangeRecorded,
    JobEnded,
    JobItem,
)

NO_VERSION = -1


@dataclass(frozen=True, kw_only=True, slots=True)
class SkuState:
    account: str
    marketplace: str
    sku: str
    stream_version: int = 0
    quantity: int | None = None
    quantity_version: int = NO_VERSION
    price: str | None = None
    currency: str | None = None
    price_version: int = NO_VERSION
    job_id: int | None = None
    job_quantity: int | None = None
    job_quantity_version: int = NO_VERSION
    job_price: str | None = None
    job_currency: str | None = None
    job_price_version: int = NO_VERSION
    acked_quantity: int | None = None
    acked_quantity_version: int = NO_VERSION
    acked_price: str | None = None
    acked_currency: str | None = None
    acked_price_version: int = NO_VERSION
    attempts: int = 0
    last_error_code: str | None = None
    last_error_message: str | None = None
    not_before: float = 0.0
    pending_since: float | None = None
    changed_at: float = 0.0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.marketplace, self.sku)

    @property
    def quantity_dirty(self) -> bool:
        return self.quantity_version > self.acked_quantity_version

    @property
    def price_dirty(self) -> bool:
        return self.price_version > self.acked_price_version

    @property
    def dirty(self) -> bool:
        return self.quantity_dirty or self.price_dirty

    @property
    def state(self) -> str:
        """``in-job``, ``pending`` or ``synced``, as an operator reads it."""
        if self.job_id is not None:
            return "in-job"
        return "pending" if self.dirty else "synced"

    def eligible(self, now: float) -> bool:
        """May this SKU go into a new job now?"""
        return self.dirty and self.job_id is None and self.not_before <= now


def new_sku(account: str, marketplace: str, sku: str) -> SkuState:
    return SkuState(account=account, marketplace=marketplace, sku=sku)


def _mark_pending(before: SkuState, after: SkuState, at: float) -> SkuState:
    if not after.dirty:
        return replace(after, pending_since=None)
    if before.dirty and before.pending_since is not None:
        return after
    return replace(after, pending_since=at)


def apply_change(state: SkuState, event: ChangeRecorded) -> SkuState:
    """Fold a storefront change: per field, the newest version wins."""
    new = replace(state, stream_version=state.stream_version + 1)
    changed = False
    if event.quantity is not None and event.version > state.quantity_version:
        new = replace(new, quantity=event.quantity, quantity_version=event.version)
        changed = True
    if event.price is not None and event.version > state.price_version:
        new = replace(new, price=event.price, currency=event.currency, price_version=event.version)
        changed = True
    if not changed:
        return new
    return _mark_pending(state, replace(new, changed_at=event.at), event.at)


def claim(state: SkuState, job_id: int, item: JobItem) -> SkuState:
    """The SKU joins a job, which carries exactly the versions in ``item``."""
    return replace(
        state,
        job_id=job_id,
        job_quantity=item.quantity,
        job_quantity_version=item.quantity_version
        if item.quantity_version is not None
        else NO_VERSION,
        job_price=item.price,
        job_currency=item.currency,
        job_price_version=item.price_version if item.price_version is not None else NO_VERSION,
    )


def _released(state: SkuState) -> SkuState:
    return replace(
        state,
        job_id=None,
        job_quantity=None,
        job_quantity_version=NO_VERSION,
        job_price=None,
        job_currency=None,
        job_price_version=NO_VERSION,
    )


def accept(state: SkuState, at: float) -> SkuState:
    """Amazon accepted what the job carried; newer changes stay pending."""
    new = state
    if state.job_quantity_version > state.acked_quantity_version:
        new = replace(
            new,
            acked_quantity=state.job_quantity,
            acked_quantity_version=state.job_quantity_version,
        )
    if state.job_price_version > state.acked_price_version:
        new = replace(
            new,
            acked_price=state.job_price,
            acked_currency=state.job_currency,
            acked_price_version=state.job_price_version,
        )
    new = replace(
        _released(new), attempts=0, last_error_code=None, last_error_message=None, not_before=0.0
    )
    return _mark_pending(state, new, at)


def reject(state: SkuState, code: str, message: str, retry_at: float) -> SkuState:
    """Amazon rejected the item (or the whole job failed): it stays pending, retried later."""
    return replace(
        _released(state),
        attempts=state.attempts + 1,
        last_error_code=code,
        last_error_message=message,
        not_before=retry_at,
    )


def release(state: SkuState) -> SkuState:
    """The job was canceled: the item is pending again as if the job had never existed."""
    return _released(state)


def apply_job_end(state: SkuState, event: JobEnded) -> SkuState:
    if state.job_id != event.job_id:
        return state
    if event.status == "error":
        return reject(state, "JOB_ERROR", event.reason, event.retry_at)
    return release(state)
