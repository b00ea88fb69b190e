"""A job's life: reserved → created → processing → waiting-for-result → done | error | canceled.

:func:`apply` folds one event of a job's stream into its :class:`JobState` and refuses any
transition the table below does not allow, so neither a bug nor a replayed log can move a
job backwards or out of a final state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from marketsync.domain.events import (
    ApiCallDeferred,
    CreateFeedCalled,
    Event,
    FeedDocumentUploaded,
    FeedReportReceived,
    FeedStatusObserved,
    FeedSubmitted,
    JobAbandoned,
    JobCreated,
    JobEnded,
    JobMarkedStuck,
    JobProcessingStarted,
    JobReserved,
)


class JobStatus(StrEnum):
    RESERVED = "reserved"
    CREATED = "created"
    PROCESSING = "processing"
    WAITING = "waiting-for-result"
    DONE = "done"
    ERROR = "error"
    CANCELED = "canceled"


FINAL = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELED})
CANCELABLE = frozenset({JobStatus.RESERVED, JobStatus.CREATED})

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RESERVED: frozenset({JobStatus.CREATED, JobStatus.CANCELED, JobStatus.ERROR}),
    JobStatus.CREATED: frozenset({JobStatus.PROCESSING, JobStatus.CANCELED, JobStatus.ERROR}),
    JobStatus.PROCESSING: frozenset({JobStatus.WAITING, JobStatus.ERROR}),
    JobStatus.WAITING: frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELED}),
    JobStatus.DONE: frozenset(),
    JobStatus.ERROR: frozenset(),
    JobStatus.CANCELED: frozenset(),
}

JOB_TYPES = (
    "send-products",
    "update-qty",
    "update-price",
    "update-qty-price",
    "stop",
    "stop-remove",
    "orders-fulfillment",
    "inventory-report",
)


class IllegalTransition(Exception):
    """An event would move a job somewhere its state machine does not allow."""


@dataclass(frozen=True, kw_only=True, slots=True)
class JobState:
    job_id: int
    account: str
    marketplace: str
    job_type: str
    status: JobStatus
    created_at: float
    updated_at: float
    stream_version: int = 1
    items: int = 0
    accepted: int = 0
    rejected: int = 0
    feed_type: str | None = None
    document_sha256: str | None = None
    document_id: str | None = None
    feed_id: str | None = None
    feed_status: str | None = None
    error: str | None = None
    deferrals: int = 0
    retry_streak: int = 0  # deferrals since the job last moved on
    create_feed_calls: int = 0
    submitted_at: float | None = None
    stuck: bool = False
    abandoned: bool = False

    @property
    def final(self) -> bool:
        return self.status in FINAL


def start(event: JobReserved) -> JobState:
    return JobState(
        job_id=event.job_id,
        account=event.account,
        marketplace=event.marketplace,
        job_type=event.job_type,
        status=JobStatus.RESERVED,
        created_at=event.at,
        updated_at=event.at,
        items=len(event.items),
    )


def _moved(job: JobState, to: JobStatus, event: Event) -> JobState:
    if job.final or (to != job.status and to not in ALLOWED[job.status]):
        raise IllegalTransition(f"job {job.job_id}: {job.status} → {to} is not allowed")
    return replace(
        job,
        status=to,
        updated_at=event.at,
        stream_version=job.stream_version + 1,
        retry_streak=0,
    )


def _require(job: JobState, event: Event, *statuses: JobStatus) -> None:
    if job.status not in statuses:
        raise IllegalTransition(
            f"job {job.job_id}: {event.type_name} is not allowed in state {job.status}"
        )


def apply(job: JobState, event: Event) -> JobState:
    """The job after ``event``; :class:`IllegalTransition` if the event does not fit."""
    match event:
        case JobCreated():
            _require(job, event, JobStatus.RESERVED)
            job = _moved(job, JobStatus.CREATED, event)
            return replace(job, feed_type=event.feed_type, document_sha256=event.document_sha256)
        case JobProcessingStarted():
            _require(job, event, JobStatus.CREATED)
            return _moved(job, JobStatus.PROCESSING, event)
        case FeedDocumentUploaded():
            _require(job, event, JobStatus.PROCESSING)
            return replace(_moved(job, job.status, event), document_id=event.document_id)
        case CreateFeedCalled():
            _require(job, event, JobStatus.PROCESSING)
            return replace(
                _moved(job, job.status, event), create_feed_calls=job.create_feed_calls + 1
            )
        case FeedSubmitted():
            _require(job, event, JobStatus.PROCESSING)
            job = _moved(job, JobStatus.WAITING, event)
            return replace(
                job, feed_id=event.feed_id, feed_status="IN_QUEUE", submitted_at=event.at
            )
        case JobMarkedStuck():
            _require(job, event, JobStatus.WAITING)
            return replace(_moved(job, job.status, event), stuck=True)
        case JobAbandoned():
            _require(job, event, JobStatus.WAITING)
            if job.abandoned:
                raise IllegalTransition(f"job {job.job_id} is already abandoned")
            return replace(_moved(job, job.status, event), abandoned=True)
        case FeedStatusObserved():
            _require(job, event, JobStatus.WAITING)
            return replace(_moved(job, job.status, event), feed_status=event.status)
        case ApiCallDeferred():
            _require(job, event, JobStatus.CREATED, JobStatus.PROCESSING, JobStatus.WAITING)
            return replace(
                _moved(job, job.status, event),
                deferrals=job.deferrals + 1,
                retry_streak=job.retry_streak + 1,
            )
        case FeedReportReceived():
            _require(job, event, JobStatus.WAITING)
            return replace(
                _moved(job, job.status, event),
                accepted=len(event.accepted),
                rejected=len(event.rejected),
            )
        case JobEnded():
            job = _moved(job, JobStatus(event.status), event)
            return replace(job, error=event.reason or None)
        case _:
            raise IllegalTransition(f"job {job.job_id}: {event.type_name} is not a job event")


def job_type_for(has_quantity: bool, has_price: bool) -> str:
    """The product job type a seller sees, from what the feed carries."""
    if has_quantity and has_price:
        return "update-qty-price"
    return "update-qty" if has_quantity else "update-price"
