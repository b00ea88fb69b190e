"""Stuck feeds: Amazon holds a feed longer than ``[pipeline] stuck_after``.

Held IN_QUEUE, the poller cancels it (cancelFeed) and the items go in the next job. Held
IN_PROGRESS (Amazon cannot cancel it), the job is marked stuck for an operator, who may
abandon it: its items go on in a new job, and once the held feed finishes every SKU it
carried is sent again with its newest values, so Amazon ends at the newest values whatever
order it applied the two feeds in.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from marketsync import operations
from marketsync.domain.events import JobEnded, JobMarkedStuck, JobReserved
from marketsync.domain.jobs import JobState, JobStatus
from tests.integration.jobs.shop import (
    FAST_PIPELINE,
    US,
    Shop,
    assert_documents_valid,
    reserved,
)
from tests.integration.pipeline.harness import Run, pipeline, wait_until

pytestmark = pytest.mark.integration

STUCK_AFTER = 2.0
PIPELINE = {**FAST_PIPELINE, "stuck_after": STUCK_AFTER}


def job_state(run: Run, job_id: int) -> JobState:
    with run.store.write() as tx:
        state = tx.states.job(job_id)
    assert state is not None, f"no job {job_id}"
    return state


def held_feed(run: Run, status: str) -> dict[str, object]:
    def held() -> dict[str, object] | None:
        feeds = run.feeds()
        return next((f for f in feeds if f["held"] == f["processingStatus"] == status), None)

    return wait_until(held, 10, f"a feed held {status}")


def marked_stuck(run: Run, job_id: int) -> JobMarkedStuck:
    def found() -> JobMarkedStuck | None:
        events = run.job_events(job_id)
        return next((e for e in events if isinstance(e, JobMarkedStuck)), None)

    return wait_until(found, STUCK_AFTER + 10, f"job {job_id} marked stuck")


def jobs_list(run: Run) -> list[str]:
    env = {**os.environ, "MARKETSYNC_DATABASE_URL": run.settings.database_url}
    env.pop("MARKETSYNC_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "marketsync", "jobs", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def test_a_feed_stuck_in_queue_is_canceled_and_its_items_go_again(
    amqp_url: str, database_url: str
) -> None:
    """A feed Amazon keeps IN_QUEUE past stuck_after: the job is marked stuck, the poller
    cancels the feed (cancelFeed), the job ends canceled and its items go in the next job,
    which Amazon applies."""
    shop = Shop()
    seeds = [shop.seed(s) for s in ("Q-1", "Q-2")]
    with pipeline(amqp_url, database_url, accounts=(US,), listings=seeds, pipeline=PIPELINE) as run:
        run.set_faults(hold={"status": "IN_QUEUE", "count": 1})
        events = [shop.changed("Q-1", quantity=3), shop.changed("Q-2", quantity=4, price="6.00")]
        run.publish(*events)
        feed = held_feed(run, "IN_QUEUE")
        [job] = reserved(run)

        stuck = marked_stuck(run, job.job_id)
        assert stuck.feed_status == "IN_QUEUE" and stuck.age >= STUCK_AFTER
        run.wait_settled(*events, timeout=STUCK_AFTER + 20)

        state = job_state(run, job.job_id)
        assert (state.status, state.stuck) == (JobStatus.CANCELED, True)
        assert run.stats()["requests"].get("cancelFeed", 0) >= 1
        statuses = {f["feedId"]: f["processingStatus"] for f in run.feeds()}
        assert statuses.pop(feed["feedId"]) == "CANCELLED"
        assert list(statuses.values()) == ["DONE"]
        [again] = reserved(run)[1:]
        assert sorted(i.sku for i in again.items) == ["Q-1", "Q-2"]
        assert job_state(run, again.job_id).status == JobStatus.DONE
        listings = run.listings(shop.seller)
        assert (listings["Q-1"]["quantity"], listings["Q-2"]["quantity"]) == (3, 4)
        assert listings["Q-2"]["price"] == "6.00"


def test_a_feed_stuck_in_progress_is_marked_for_the_operator(
    amqp_url: str, database_url: str
) -> None:
    """A feed Amazon keeps IN_PROGRESS past stuck_after: the job is marked stuck (the
    `jobs list` note says so), not canceled, and ends done once Amazon finishes it."""
    shop = Shop()
    seeds = [shop.seed("P-1")]
    with pipeline(amqp_url, database_url, accounts=(US,), listings=seeds, pipeline=PIPELINE) as run:
        run.set_faults(hold={"status": "IN_PROGRESS", "count": 1})
        changed = shop.changed("P-1", quantity=2)
        run.publish(changed)
        feed = held_feed(run, "IN_PROGRESS")
        [job] = reserved(run)

        stuck = marked_stuck(run, job.job_id)
        assert stuck.feed_status == "IN_PROGRESS"
        state = job_state(run, job.job_id)
        assert (state.status, state.stuck) == (JobStatus.WAITING, True)
        wait_until(run.views_caught_up, 10, "the views caught up")
        header, _rule, *rows = jobs_list(run)
        assert "note" in header.split(), header
        [row] = [r for r in rows if r.split()[0] == str(job.job_id)]
        assert "stuck" in row, row

        run.release(str(feed["feedId"]))
        run.wait_settled(changed, timeout=20)
        assert job_state(run, job.job_id).status == JobStatus.DONE
        assert run.listings(shop.seller)["P-1"]["quantity"] == 2


def test_abandoning_a_stuck_job_resends_its_skus_with_newest_values(
    amqp_url: str, database_url: str
) -> None:
    """operations.abandon_job releases a held job's items to a new job at once; when the
    held feed finally ends, every SKU it carried is sent again with its newest values, and
    Amazon ends at the newest values."""
    shop = Shop()
    skus = ("H-1", "H-2", "H-3")
    seeds = [shop.seed(s) for s in skus]
    with pipeline(amqp_url, database_url, accounts=(US,), listings=seeds, pipeline=PIPELINE) as run:
        run.set_faults(hold={"status": "IN_PROGRESS", "count": 1})
        first = [shop.changed(s, quantity=10, price="10.00") for s in skus]
        run.publish(*first)
        feed = held_feed(run, "IN_PROGRESS")
        [held] = reserved(run)

        newer = [shop.changed("H-1", quantity=11), shop.changed("H-2", price="12.00")]
        run.publish(*newer)
        wait_until(lambda: run.recorded(e.id for e in newer), 10, "the newer changes recorded")
        operations.abandon_job(run.store, held.job_id, reason="test: Amazon holds it")
        assert job_state(run, held.job_id).abandoned

        def successor() -> JobReserved | None:
            return next((j for j in reserved(run) if j.job_id > held.job_id), None)

        second = wait_until(successor, 10, "a job for the abandoned job's items")
        assert sorted(i.sku for i in second.items) == sorted(skus)
        carried = {i.sku: (i.quantity, i.price) for i in second.items}
        assert carried["H-1"][0] == 11 and carried["H-2"][1] == "12.00"
        wait_until(
            lambda: job_state(run, second.job_id).status == JobStatus.WAITING,
            10,
            "the new job submitted",
        )

        run.release(str(feed["feedId"]))
        run.wait_settled(*first, *newer, timeout=30)

        want = {"H-1": (11, "10.00"), "H-2": (10, "12.00"), "H-3": (10, "10.00")}
        listings = run.listings(shop.seller)
        assert {s: (listings[s]["quantity"], listings[s]["price"]) for s in skus} == want
        assert job_state(run, held.job_id).status == JobStatus.DONE
        [end] = [r for r in run.log("JobEnded") if r.stream == f"job:{held.job_id}"]
        ended = end.event
        assert isinstance(ended, JobEnded)
        assert sorted(ended.resend) == sorted(skus), "the abandoned job's SKUs are not resent"
        resent = {
            i.sku: (i.quantity, i.price)
            for r in run.log("JobReserved")
            if r.position > end.position and isinstance(job := r.event, JobReserved)
            for i in job.items
        }
        assert resent == want, "no job after the held feed finished sent its SKUs again"
        assert all(job_state(run, j.job_id).status == JobStatus.DONE for j in reserved(run))
        assert_documents_valid(run)
