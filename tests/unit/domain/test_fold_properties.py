"""Folding storefront changes: any order and any duplication give the same desired state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from marketsync.domain.events import ChangeRecorded, FeedReportReceived, JobItem, JobReserved
from marketsync.domain.fold import fold
from marketsync.domain.memory_states import MemoryStates

SKUS = ["A", "B", "C"]


@st.composite
def changes(draw: st.DrawFn) -> list[ChangeRecorded]:
    """Changes with distinct versions per SKU (a storefront's counter never repeats)."""
    out = []
    for sku in draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=12)):
        version = draw(st.integers(0, 10_000))
        has_qty = draw(st.booleans())
        has_price = not has_qty or draw(st.booleans())
        out.append(
            ChangeRecorded(
                at=1.0,
                account="acc",
                marketplace="MP",
                sku=sku,
                version=version,
                quantity=draw(st.integers(0, 100)) if has_qty else None,
                price=f"{draw(st.integers(1, 999))}.99" if has_price else None,
                currency="USD" if has_price else None,
            )
        )
    # one change per (sku, version): the storefront's counter increases per SKU
    unique = {(c.sku, c.version): c for c in out}
    return list(unique.values())


def desired(events: list[ChangeRecorded]) -> dict[str, tuple[object, ...]]:
    states = MemoryStates()
    for event in events:
        fold(states, event)
    return {
        key[2]: (s.quantity, s.quantity_version, s.price, s.currency, s.price_version, s.dirty)
        for key, s in states.skus.items()
    }


@settings(max_examples=300)
@given(changes(), st.randoms(use_true_random=False), st.data())
def test_any_permutation_and_duplication_folds_to_the_same_desired_state(
    events: list[ChangeRecorded], rnd: object, data: st.DataObject
) -> None:
    """Reordering and redelivering changes never changes the newest value per field."""
    shuffled = data.draw(st.permutations(events))
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(events), max_size=10))
    duplicated = data.draw(st.permutations(duplicated))
    assert desired(duplicated) == desired(events)


@given(changes())
def test_newest_version_per_field_wins(events: list[ChangeRecorded]) -> None:
    """The folded quantity and price are those of the highest version that carried them."""
    result = desired(events)
    for sku in {e.sku for e in events}:
        mine = [e for e in events if e.sku == sku]
        with_qty = [e for e in mine if e.quantity is not None]
        with_price = [e for e in mine if e.price is not None]
        if with_qty:
            assert result[sku][0] == max(with_qty, key=lambda e: e.version).quantity
        if with_price:
            assert result[sku][2] == max(with_price, key=lambda e: e.version).price


def test_acceptance_keeps_a_newer_change_pending() -> None:
    """Amazon accepting a job's value leaves a change that arrived meanwhile pending."""
    states = MemoryStates()
    change = dict(at=1.0, account="acc", marketplace="MP", sku="A", currency=None)
    fold(states, ChangeRecorded(version=1, quantity=5, **change))
    item = JobItem(sku="A", message_id=1, quantity=5, quantity_version=1)
    fold(
        states,
        JobReserved(
            at=2.0, job_id=1, account="acc", marketplace="MP", job_type="update-qty", items=(item,)
        ),
    )
    fold(states, ChangeRecorded(version=2, quantity=7, **change))
    from marketsync.domain.events import (
        FeedSubmitted,
        JobCreated,
        JobProcessingStarted,
    )

    for e in (
        JobCreated(
            at=3, job_id=1, feed_type="JSON_LISTINGS_FEED", document="{}", document_sha256="x"
        ),
        JobProcessingStarted(at=3, job_id=1),
        FeedSubmitted(at=3, job_id=1, feed_id="F1"),
    ):
        fold(states, e)
    fold(
        states,
        FeedReportReceived(
            at=4.0, job_id=1, feed_id="F1", report="{}", accepted=("A",), rejected=()
        ),
    )
    state = states.sku(("acc", "MP", "A"))
    assert state.acked_quantity == 5 and state.acked_quantity_version == 1
    assert state.quantity == 7 and state.dirty and state.job_id is None
