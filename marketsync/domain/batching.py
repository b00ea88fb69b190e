"""When to form a job, and what goes in it.

Policy (one account and marketplace at a time; the caller holds the createFeed token):

* a job carries every eligible SKU, oldest first, up to 25,000 messages and the document
  size limit: Amazon allows few submissions, so each one should be as full as it can be;
* it forms once the oldest pending change has waited the gathering window and either no
  new change came in for a whole window (the burst is over) or the oldest has waited
  ``max_age``, or the feed is already full;
* each SKU goes once, with the newest value of each field that Amazon has not accepted yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from marketsync.domain.events import JobItem
from marketsync.domain.feed_document import message_size
from marketsync.domain.jobs import job_type_for
from marketsync.domain.sku import SkuState, next_action

DOCUMENT_OVERHEAD = 200  # header and brackets, generously


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    gathering_window: float
    max_age: float
    max_messages: int
    max_document_bytes: int


@dataclass(frozen=True, slots=True)
class JobPlan:
    job_type: str
    items: tuple[JobItem, ...]


JOB_TYPE_OF_ACTION = {
    "zero": "stop-remove",
    "delete": "stop-remove",
    "stop": "stop",
    "list": "send-products",
    "update": "update",  # refined by content: update-qty, update-price, update-qty-price
}
PRIORITY = ("stop-remove", "stop", "send-products", "update")  # stop selling first


def item_for(state: SkuState, message_id: int) -> JobItem:
    """What the SKU's next action sends: the newest values Amazon has not accepted yet."""
    action = next_action(state)
    if action in ("zero", "stop", "delete"):
        return JobItem(
            sku=state.sku,
            message_id=message_id,
            action=action or "",
            quantity=0 if action != "delete" else None,
            status_version=state.status_change,
        )
    listing = action == "list"
    send_quantity = state.quantity is not None and (listing or state.quantity_dirty)
    send_price = state.price is not None and (listing or state.price_dirty)
    return JobItem(
        sku=state.sku,
        message_id=message_id,
        action=action or "update",
        asin=state.asin if listing else None,
        condition=state.condition if listing else None,
        listing_version=state.listing_version if listing else None,
        status_version=state.status_change,
        quantity=state.quantity if send_quantity else None,
        quantity_version=state.quantity_version if send_quantity else None,
        price=state.price if send_price else None,
        currency=state.currency if send_price else None,
        price_version=state.price_version if send_price else None,
    )


def job_kind(state: SkuState) -> str | None:
    action = next_action(state)
    return None if action is None else JOB_TYPE_OF_ACTION[action]


def is_ready(candidates: Sequence[SkuState], now: float, policy: BatchPolicy) -> bool:
    if not candidates:
        return False
    if len(candidates) >= policy.max_messages:
        return True
    oldest = min(c.pending_since or c.changed_at for c in candidates)
    newest = max(c.changed_at for c in candidates)
    if now - oldest < policy.gathering_window:
        return False
    return now - newest >= policy.gathering_window or now - oldest >= policy.max_age


def plan_job(
    candidates: Sequence[SkuState], marketplace: str, now: float, policy: BatchPolicy
) -> JobPlan | None:
    """The job to form from ``candidates`` (eligible, oldest first), or None to keep waiting.

    A job carries one kind of work; the most urgent kind that is ready goes first.
    """
    by_kind: dict[str, list[SkuState]] = {}
    for state in candidates:
        kind = job_kind(state)
        if kind is not None:
            by_kind.setdefault(kind, []).append(state)
    for kind in PRIORITY:
        chosen = by_kind.get(kind, [])
        if is_ready(chosen, now, policy):
            return _plan(kind, chosen, marketplace, policy)
    return None


def _plan(kind: str, chosen: Sequence[SkuState], marketplace: str, policy: BatchPolicy) -> JobPlan:
    items: list[JobItem] = []
    size = DOCUMENT_OVERHEAD
    for state in chosen[: policy.max_messages]:
        item = item_for(state, message_id=len(items) + 1)
        size += message_size(item, marketplace)
        if size > policy.max_document_bytes and items:
            break
        items.append(item)
    if kind == "update":
        has_quantity = any(i.quantity is not None for i in items)
        has_price = any(i.price is not None for i in items)
        kind = job_type_for(has_quantity, has_price)
    return JobPlan(job_type=kind, items=tuple(items))
