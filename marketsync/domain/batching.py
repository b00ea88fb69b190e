"""When to form a job, and what goes in it.

Policy (one account and marketplace at a time; the caller holds the createFeed token):

* a job carries every eligible SKU, oldest first, up to 25,000 messages and the document
  size limit: Amazon allows few submissions, so each one should be as full as it can be;
* it forms once the oldest pending change has waited the gathering window and either no
  new change came in for a whole window (the burst is over) or the oldest has waited
  ``max_age``. A full feed waits for the same: SKUs still changing in a burst would
  otherwise go twice, once in this feed and again in the next;
* each SKU goes once, with the newest value of each field that Amazon has not accepted yet.

The decision needs only a :class:`Backlog` per job kind (oldest, newest, count), which the
batcher reads with one aggregate query; it reads the SKUs themselves only for the kind that
is ready. :func:`plan_job` is the same decision over SKU states in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


@dataclass(frozen=True, slots=True)
class Backlog:
    """The eligible SKUs of one job kind, summarised."""

    kind: str
    oldest: float  # the earliest pending_since
    newest: float  # the latest changed_at
    count: int


def is_ready(backlog: Backlog, now: float, policy: BatchPolicy) -> bool:
    if backlog.count == 0 or now - backlog.oldest < policy.gathering_window:
        return False
    return now - backlog.newest >= policy.gathering_window or now - backlog.oldest >= policy.max_age


def kind_to_form(backlogs: Iterable[Backlog], now: float, policy: BatchPolicy) -> str | None:
    """The most urgent job kind that is ready now (one job carries one kind of work)."""
    ready = {b.kind for b in backlogs if is_ready(b, now, policy)}
    return next((kind for kind in PRIORITY if kind in ready), None)


def backlogs(candidates: Iterable[SkuState]) -> list[Backlog]:
    by_kind: dict[str, list[SkuState]] = {}
    for state in candidates:
        kind = job_kind(state)
        if kind is not None:
            by_kind.setdefault(kind, []).append(state)
    return [
        Backlog(
            kind=kind,
            oldest=min(s.pending_since or s.changed_at for s in chosen),
            newest=max(s.changed_at for s in chosen),
            count=len(chosen),
        )
        for kind, chosen in by_kind.items()
    ]


def plan_job(
    candidates: Sequence[SkuState], marketplace: str, now: float, policy: BatchPolicy
) -> JobPlan | None:
    """The job to form from ``candidates`` (eligible, oldest first), or None to keep waiting."""
    kind = kind_to_form(backlogs(candidates), now, policy)
    if kind is None:
        return None
    return plan_kind(kind, [c for c in candidates if job_kind(c) == kind], marketplace, policy)


def plan_kind(
    kind: str, chosen: Sequence[SkuState], marketplace: str, policy: BatchPolicy
) -> JobPlan:
    """A job of ``kind`` from ``chosen`` (that kind's eligible SKUs, oldest first)."""
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
