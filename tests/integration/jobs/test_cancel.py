"""Canceling jobs: allowed while reserved or created (the items return to pending as if the
job had never been), refused from processing on (operations.Refused, and one line and a
non-zero exit from the CLI); a feed Amazon cancels ends the job canceled and its items go
again."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from marketsync import operations
from marketsync.bootstrap import gateways
from marketsync.domain.events import JobEnded, JobReserved, sku_stream
from marketsync.domain.fold import fold
from marketsync.domain.jobs import JobState, JobStatus
from marketsync.domain.memory_states import MemoryStates
from marketsync.domain.sku import SkuState
from marketsync.eventlog import tables
from marketsync.eventlog.coordination import drain
from marketsync.eventlog.states import sku_from_row
from marketsync.eventlog.store import read_stream
from marketsync.workers.batcher import limit_for
from marketsync.workers.poller import Poller
from tests.integration.jobs.shop import US, Shop, assert_documents_valid, reserved
from tests.integration.pipeline.harness import Run, pipeline, wait_until

pytestmark = pytest.mark.integration

SLOW_DOCUMENTS = {"createFeedDocument": {"rate": 0.0001, "burst": 1}}


def job_state(run: Run, job_id: int) -> JobState:
    with run.store.write() as tx:
        state = tx.states.job(job_id)
    assert state is not None, f"no job {job_id}"
    return state


def sku_state(run: Run, shop: Shop, sku: str) -> SkuState:
    t = tables.sku_state
    key = (t.c.account == shop.name, t.c.marketplace == shop.marketplace, t.c.sku == sku)
    with run.store.read() as connection:
        row = connection.execute(sa.select(t).where(*key)).mappings().one()
    return sku_from_row(row)


def as_if_no_job(run: Run, shop: Shop, sku: str) -> SkuState:
    """The SKU folded from its own stream only: the state had no job ever claimed it."""
    states = MemoryStates()
    with run.store.read() as connection:
        for recorded in read_stream(connection, sku_stream(shop.name, shop.marketplace, sku)):
            fold(states, recorded.event)
    return states.sku((shop.name, shop.marketplace, sku))


def next_job(run: Run, after: int) -> JobReserved:
    def found() -> JobReserved | None:
        return next((j for j in reserved(run) if j.job_id > after), None)

    return wait_until(found, 15, f"a job after job {after}")


def cli(run: Run, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MARKETSYNC_DATABASE_URL": run.settings.database_url}
    env.pop("MARKETSYNC_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "marketsync", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def assert_cancel_refused(run: Run, job_id: int, status: JobStatus) -> str:
    """Both ways of canceling refuse with the same one-line reason; the reason."""
    assert job_state(run, job_id).status == status
    with pytest.raises(operations.Refused) as refused:
        operations.cancel_job(run.store, job_id)
    message = str(refused.value)
    assert f"job {job_id} is {status}" in message and "can be canceled" in message
    done = cli(run, "jobs", "cancel", str(job_id))
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert job_state(run, job_id).status == status
    return message


def hold_in_created(run: Run, shop: Shop) -> Poller:
    """A hand-driven poller for which no createFeedDocument token will come."""
    limit = limit_for(run.settings.account(shop.name), "createFeedDocument")
    with run.store.write() as tx:
        drain(tx.connection, shop.name, "createFeedDocument", limit, time.time())
    return Poller(run.store, run.settings, gateways(run.settings))


@pytest.mark.parametrize("where", ["reserved", "created"])
def test_cancel_returns_items_to_pending_as_if_the_job_never_was(
    amqp_url: str, database_url: str, where: str
) -> None:
    """A reserved or created job can be canceled: its items are pending exactly as if it
    had never existed, and the next job carries the newest values, including a change that
    arrived while the canceled job held the SKU."""
    shop = Shop()
    seeds = [shop.seed(s) for s in ("C-1", "C-2")]
    with pipeline(
        amqp_url,
        database_url,
        workers=("projector",),
        accounts=(US,),
        listings=seeds,
        account_limits={shop.name: SLOW_DOCUMENTS},
    ) as run:
        batcher = run.start("batcher")
        first = [shop.changed("C-1", quantity=1, price="2.00"), shop.changed("C-2", quantity=3)]
        run.publish(*first)
        job = next_job(run, 0)
        assert sorted(i.sku for i in job.items) == ["C-1", "C-2"]
        if where == "created":
            hold_in_created(run, shop).tick()
        assert job_state(run, job.job_id).status == where

        newer = shop.changed("C-1", quantity=5)
        run.publish(newer)
        wait_until(lambda: run.recorded([newer.id]), 10, "the newer change recorded")
        batcher.stop()  # nothing may claim the items before we look at them

        operations.cancel_job(run.store, job.job_id)
        assert job_state(run, job.job_id).status == JobStatus.CANCELED
        ended = run.job_events(job.job_id)[-1]
        assert isinstance(ended, JobEnded) and ended.status == "canceled"
        for sku in ("C-1", "C-2"):
            assert sku_state(run, shop, sku) == as_if_no_job(run, shop, sku), sku

        run.start("batcher")
        again = next_job(run, job.job_id)
        items = {i.sku: (i.quantity, i.price) for i in again.items}
        assert items == {"C-1": (5, "2.00"), "C-2": (3, None)}
        with pytest.raises(operations.Refused, match="only reserved and created"):
            operations.cancel_job(run.store, job.job_id)


def test_cancel_is_refused_from_processing_on(amqp_url: str, database_url: str) -> None:
    """Canceling a job that is processing, waiting for Amazon's result or done is refused
    with the reason, by operations.cancel_job and by `marketsync jobs cancel` (one line,
    non-zero exit), and the job goes on to done."""
    shop = Shop()
    seeds = [shop.seed("R-1")]
    with pipeline(
        amqp_url, database_url, workers=("batcher", "projector"), accounts=(US,), listings=seeds
    ) as run:
        run.set_faults(
            server_error={"createFeedDocument": {"count": 1, "status": 503}},
            hold={"status": "IN_QUEUE", "count": 1},
        )
        changed = shop.changed("R-1", quantity=4)
        run.publish(changed)
        job = next_job(run, 0)
        poller = Poller(run.store, run.settings, gateways(run.settings))

        def status_after_tick() -> JobStatus:
            poller.tick()
            return job_state(run, job.job_id).status

        poller.tick()  # created, then processing: createFeedDocument answers 503
        assert_cancel_refused(run, job.job_id, JobStatus.PROCESSING)

        wait_until(lambda: status_after_tick() == JobStatus.WAITING, 15, "the feed submitted")
        assert "abandon" in assert_cancel_refused(run, job.job_id, JobStatus.WAITING)

        [feed] = run.feeds()
        run.release(feed["feedId"])
        wait_until(lambda: status_after_tick() == JobStatus.DONE, 15, "the job done")
        assert_cancel_refused(run, job.job_id, JobStatus.DONE)
        assert run.listings(shop.seller)["R-1"]["quantity"] == 4


def test_a_feed_amazon_cancels_ends_canceled_and_its_items_go_again(
    amqp_url: str, database_url: str
) -> None:
    """When Amazon cancels the feed, the job ends canceled (not done, not error) and its
    items go in the next job, which Amazon applies."""
    shop = Shop()
    seeds = [shop.seed(s) for s in ("A-1", "A-2")]
    with pipeline(amqp_url, database_url, accounts=(US,), listings=seeds) as run:
        run.set_faults(cancel_feeds=1)
        events = [shop.changed("A-1", quantity=6), shop.changed("A-2", price="8.00")]
        run.publish(*events)
        run.wait_settled(*events)

        first, second = reserved(run)
        assert job_state(run, first.job_id).status == JobStatus.CANCELED
        ended = run.job_events(first.job_id)[-1]
        assert isinstance(ended, JobEnded) and "Amazon" in ended.reason
        assert job_state(run, second.job_id).status == JobStatus.DONE
        assert sorted(i.sku for i in second.items) == ["A-1", "A-2"]
        listings = run.listings(shop.seller)
        assert (listings["A-1"]["quantity"], listings["A-2"]["price"]) == (6, "8.00")
        assert sorted(f["processingStatus"] for f in run.feeds()) == ["CANCELLED", "DONE"]
        assert assert_documents_valid(run) == 2
