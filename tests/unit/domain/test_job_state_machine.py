"""The job state machine moves forward only, along the edges sellers know."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketsync.domain import jobs
from marketsync.domain.events import (
    Event,
    FeedReportReceived,
    FeedSubmitted,
    JobCreated,
    JobEnded,
    JobItem,
    JobProcessingStarted,
    JobReserved,
)
from marketsync.domain.jobs import ALLOWED, IllegalTransition, JobStatus

RESERVED = JobReserved(
    at=0,
    job_id=1,
    account="a",
    marketplace="M",
    job_type="update-qty",
    items=(JobItem(sku="S", message_id=1, quantity=1, quantity_version=1),),
)
CREATED = JobCreated(
    at=1, job_id=1, feed_type="JSON_LISTINGS_FEED", document="{}", document_sha256="h"
)
PROCESSING = JobProcessingStarted(at=2, job_id=1)
SUBMITTED = FeedSubmitted(at=3, job_id=1, feed_id="F")
REPORT = FeedReportReceived(at=4, job_id=1, feed_id="F", report="{}", accepted=("S",), rejected=())


def ended(status: str) -> JobEnded:
    return JobEnded(at=5, job_id=1, status=status)


def run(*events: Event) -> jobs.JobState:
    job = jobs.start(RESERVED)
    for event in events:
        job = jobs.apply(job, event)
    return job


def test_the_happy_path_ends_done() -> None:
    """reserved → created → processing → waiting-for-result → done."""
    job = run(CREATED, PROCESSING, SUBMITTED, REPORT, ended("done"))
    assert job.status == JobStatus.DONE and job.accepted == 1 and job.feed_id == "F"
    assert job.stream_version == 6


@pytest.mark.parametrize(
    "events",
    [
        (PROCESSING,),  # processing before the content is frozen
        (CREATED, SUBMITTED),  # a feed id before submission started
        (CREATED, PROCESSING, ended("canceled")),  # no cancel once processing
        (CREATED, PROCESSING, SUBMITTED, ended("done"), ended("error")),  # out of a final state
        (CREATED, PROCESSING, SUBMITTED, ended("done"), CREATED),
        (REPORT,),  # a report for a job that never submitted
        (CREATED, CREATED),  # the content is frozen once
        (CREATED, PROCESSING, PROCESSING),
        (CREATED, PROCESSING, SUBMITTED, ended("done"), ended("done")),
    ],
)
def test_illegal_transitions_are_refused(events: tuple[Event, ...]) -> None:
    """Events that do not fit the job's state raise IllegalTransition."""
    with pytest.raises(IllegalTransition):
        run(*events)


@given(st.lists(st.sampled_from(list(JobStatus)), min_size=1, max_size=8))
def test_status_only_moves_along_allowed_edges(path: list[JobStatus]) -> None:
    """Any JobEnded/forward sequence either follows ALLOWED or is refused."""
    job = jobs.start(RESERVED)
    for target in path:
        event: Event
        if target in jobs.FINAL:
            event = ended(target.value)
        else:
            event = {
                JobStatus.CREATED: CREATED,
                JobStatus.PROCESSING: PROCESSING,
                JobStatus.WAITING: SUBMITTED,
                JobStatus.RESERVED: CREATED,
            }[target]
        before = job.status
        try:
            job = jobs.apply(job, event)
        except IllegalTransition:
            continue
        assert job.status == before or job.status in ALLOWED[before]
        assert not (before in jobs.FINAL and job.status != before)
