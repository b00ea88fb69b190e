"""When a job forms: the gathering window, the burst pause, max age, full feeds."""

from __future__ import annotations

from marketsync.domain.batching import BatchPolicy, backlogs, kind_to_form, plan_job
from marketsync.domain.events import ChangeRecorded, SellingStatusRequested
from marketsync.domain.sku import SkuState, apply_change, apply_status, new_sku

POLICY = BatchPolicy(gathering_window=5, max_age=60, max_messages=3, max_document_bytes=10**6)


def changed(sku: str, at: float, version: int = 1) -> SkuState:
    event = ChangeRecorded(
        at=at, account="a", marketplace="MP", sku=sku, version=version, quantity=1
    )
    return apply_change(new_sku("a", "MP", sku), event)


def test_nothing_forms_before_the_oldest_change_has_waited_the_window() -> None:
    assert plan_job([changed("A", at=100)], "MP", 104.9, POLICY) is None
    plan = plan_job([changed("A", at=100)], "MP", 105, POLICY)
    assert plan is not None and [i.sku for i in plan.items] == ["A"]


def test_a_job_waits_while_the_burst_goes_on_until_max_age() -> None:
    burst = [changed(f"S{i}", at=100 + i) for i in range(2)]  # newest at 101
    assert plan_job(burst, "MP", 105.5, POLICY) is None  # 4.5 s since the newest
    assert plan_job(burst, "MP", 106, POLICY) is not None  # a whole window of quiet
    ongoing = [changed("OLD", at=100), changed("NEW", at=159)]
    assert plan_job(ongoing, "MP", 159.5, POLICY) is None
    assert plan_job(ongoing, "MP", 160, POLICY) is not None  # the oldest is 60 s old


def test_a_full_feed_waits_for_the_burst_to_pause_so_no_sku_goes_twice() -> None:
    """Four SKUs, three per feed: a full feed formed mid-burst would leave SKUs that change
    again after it to a second feed, each sent twice."""
    burst = [changed(f"S{i}", at=100 + i) for i in range(4)]  # still changing at 103
    assert plan_job(burst, "MP", 107, POLICY) is None
    plan = plan_job(burst, "MP", 108, POLICY)
    assert plan is not None and [i.sku for i in plan.items] == ["S0", "S1", "S2"]


def test_the_most_urgent_ready_kind_goes_first_and_a_busy_kind_does_not_hold_it() -> None:
    """A stop request that has waited its window goes even while updates are still pouring in."""
    stop = SellingStatusRequested(
        at=100, account="a", marketplace="MP", sku="X", status="stopped", version=1
    )
    stopped = apply_status(changed("X", at=90), stop)
    updates = [changed("U", at=104)]
    kinds = backlogs([stopped, *updates])
    assert kind_to_form(kinds, 105, POLICY) == "stop"
    plan = plan_job([stopped, *updates], "MP", 105, POLICY)
    assert plan is not None and plan.job_type == "stop" and [i.sku for i in plan.items] == ["X"]
