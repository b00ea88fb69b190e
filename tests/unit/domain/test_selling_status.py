"""Listing, stopping, removing and relisting a SKU, folded purely."""

from __future__ import annotations

from marketsync.domain.batching import BatchPolicy, plan_job
from marketsync.domain.events import (
    ChangeRecorded,
    FeedReportReceived,
    FeedSubmitted,
    JobCreated,
    JobEnded,
    JobProcessingStarted,
    JobReserved,
    ListingRequested,
    SellingStatusRequested,
)
from marketsync.domain.fold import fold
from marketsync.domain.memory_states import MemoryStates
from marketsync.domain.sku import SkuState, next_action

KEY = ("acc", "MP", "S")
POLICY = BatchPolicy(gathering_window=0, max_age=0, max_messages=100, max_document_bytes=10**6)


class Pipeline:
    """Folds events and plays Amazon accepting every job, like the workers would."""

    def __init__(self) -> None:
        self.states = MemoryStates()
        self.jobs = 0
        self.types: list[str] = []

    @property
    def sku(self) -> SkuState:
        return self.states.sku(KEY)

    def change(self, version: int, quantity: int) -> None:
        fold(
            self.states,
            ChangeRecorded(
                at=1, account="acc", marketplace="MP", sku="S", version=version, quantity=quantity
            ),
        )

    def listed(self, version: int) -> None:
        fold(
            self.states,
            ListingRequested(
                at=1,
                account="acc",
                marketplace="MP",
                sku="S",
                version=version,
                asin="B000000001",
                condition="new_new",
                quantity=5,
                price="9.99",
                currency="USD",
            ),
        )

    def status(self, status: str, version: int) -> None:
        fold(
            self.states,
            SellingStatusRequested(
                at=1, account="acc", marketplace="MP", sku="S", status=status, version=version
            ),
        )

    def run_job(self, accept: bool = True) -> str | None:
        plan = plan_job([self.sku] if self.sku.eligible(10) else [], "MP", 10, POLICY)
        if plan is None:
            return None
        self.jobs += 1
        job = self.jobs
        for event in (
            JobReserved(
                at=2,
                job_id=job,
                account="acc",
                marketplace="MP",
                job_type=plan.job_type,
                items=plan.items,
            ),
            JobCreated(
                at=2, job_id=job, feed_type="JSON_LISTINGS_FEED", document="{}", document_sha256="x"
            ),
            JobProcessingStarted(at=2, job_id=job),
            FeedSubmitted(at=2, job_id=job, feed_id=f"F{job}"),
            FeedReportReceived(
                at=3,
                job_id=job,
                feed_id=f"F{job}",
                report="{}",
                accepted=("S",) if accept else (),
                rejected=(),
            ),
            JobEnded(at=3, job_id=job, status="done"),
        ):
            fold(self.states, event)
        self.types.append(plan.job_type)
        return plan.job_type


def test_listing_sends_the_whole_offer_then_updates_only_changes() -> None:
    """product.listed forms a send-products job; a later change an update-qty job."""
    p = Pipeline()
    p.listed(version=1)
    assert p.run_job() == "send-products"
    assert p.sku.linked_since == 3 and p.sku.acked_quantity == 5 and p.sku.acked_price == "9.99"
    assert p.run_job() is None
    p.change(version=2, quantity=7)
    assert p.run_job() == "update-qty"
    assert p.sku.acked_quantity == 7 and next_action(p.sku) is None


def test_a_stopped_sku_sends_zero_then_ignores_changes_until_relisted() -> None:
    """stop: quantity 0 once; later changes are recorded but not sent; relisting sends them."""
    p = Pipeline()
    p.listed(version=1)
    p.run_job()
    p.status("stopped", version=2)
    assert p.run_job() == "stop"
    assert p.sku.acked_quantity == 0 and p.sku.selling_state == "stopped"
    p.change(version=3, quantity=42)
    assert p.sku.quantity == 42 and next_action(p.sku) is None and p.run_job() is None
    p.listed(version=4)
    assert p.run_job() == "send-products"
    assert p.sku.acked_quantity == 5  # the listing's own quantity is the newest (version 4)
    assert p.sku.selling_state == "active"


def test_removal_sends_zero_then_delete() -> None:
    """stop-remove: one job zeroes the quantity, the next deletes the listing."""
    p = Pipeline()
    p.listed(version=1)
    p.run_job()
    p.status("removed", version=2)
    assert next_action(p.sku) == "zero"
    assert p.run_job() == "stop-remove"
    assert next_action(p.sku) == "delete"
    assert p.run_job() == "stop-remove"
    assert p.sku.deleted and p.sku.selling_state == "removed" and next_action(p.sku) is None


def test_an_older_status_request_changes_nothing() -> None:
    """A late product.stopped with a lower version than the newest status is ignored."""
    p = Pipeline()
    p.listed(version=5)
    p.run_job()
    p.status("stopped", version=3)
    assert p.sku.status == "active" and p.run_job() is None


def test_a_rejected_listing_stays_pending() -> None:
    """Amazon not accepting a send-products item leaves the SKU pending, not linked."""
    p = Pipeline()
    p.listed(version=1)
    p.run_job(accept=False)
    assert p.sku.linked_since is None and next_action(p.sku) == "list"


def test_the_pending_mark_comes_with_what_amazon_needs_and_goes_with_it() -> None:
    """A change marks a synced SKU pending at its time; a change Amazon needs nothing for
    (the SKU is stopped) leaves it unmarked."""
    p = Pipeline()
    p.listed(version=1)
    assert p.sku.pending_since == 1 and p.sku.state == "pending"
    p.run_job()
    p.status("stopped", version=2)
    p.run_job()
    assert p.sku.pending_since is None and p.sku.state == "synced"
    p.change(version=3, quantity=42)
    assert p.sku.quantity == 42
    assert p.sku.pending_since is None and p.sku.state == "synced"
