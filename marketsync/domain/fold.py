"""One fold for every reader of the log: worker state, views and the auditor's replay.

:func:`fold` applies one event to the SKU and job states it touches, through a
:class:`States` port (the store's cached tables, or plain dicts in tests). Because the live
workers, the projector and ``marketsync replay`` all run this same function over the same
events, the auditor's rebuild and the live state can only differ if something bypassed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from marketsync.domain import jobs, sku
from marketsync.domain.events import (
    ChangeRecorded,
    Event,
    FeedReportReceived,
    JobAbandoned,
    JobEnded,
    JobReserved,
    ListingRequested,
    ResendRequested,
    SellingStatusRequested,
    job_stream,
    sku_stream,
)
from marketsync.domain.jobs import JobState
from marketsync.domain.sku import SkuState

SkuKey = tuple[str, str, str]


class UnknownJob(Exception):
    """An event names a job the state has never seen."""


class States(Protocol):
    def sku(self, key: SkuKey) -> SkuState: ...  # a new SkuState when unknown
    def prefetch(self, keys: Iterable[SkuKey]) -> None: ...
    def skus_in_job(self, job_id: int) -> list[SkuState]: ...
    def put_sku(self, state: SkuState) -> None: ...
    def job(self, job_id: int) -> JobState | None: ...
    def put_job(self, state: JobState) -> None: ...


def _job(states: States, job_id: int) -> JobState:
    job = states.job(job_id)
    if job is None:
        raise UnknownJob(f"job {job_id} is not known")
    return job


def _fold_reserved(states: States, event: JobReserved) -> None:
    states.put_job(jobs.start(event))
    keys = [(event.account, event.marketplace, item.sku) for item in event.items]
    states.prefetch(keys)
    for key, item in zip(keys, event.items, strict=True):
        states.put_sku(sku.claim(states.sku(key), event.job_id, item))


SkuEvent = ChangeRecorded | ListingRequested | SellingStatusRequested | ResendRequested


def _fold_sku_event(states: States, event: SkuEvent) -> None:
    state = states.sku((event.account, event.marketplace, event.sku))
    match event:
        case ChangeRecorded():
            states.put_sku(sku.apply_change(state, event))
        case ListingRequested():
            states.put_sku(sku.apply_listing(state, event))
        case SellingStatusRequested():
            states.put_sku(sku.apply_status(state, event))
        case ResendRequested():
            states.put_sku(sku.resend(state, event.at))


def _fold_end(states: States, event: JobEnded) -> None:
    job = jobs.apply(_job(states, event.job_id), event)
    states.put_job(job)
    for state in states.skus_in_job(event.job_id):
        states.put_sku(sku.apply_job_end(state, event))
    keys = [(job.account, job.marketplace, name) for name in event.resend]
    states.prefetch(keys)
    for key in keys:
        states.put_sku(sku.owe_resend(states.sku(key), event.at))


def _fold_report(states: States, event: FeedReportReceived) -> JobState:
    job = jobs.apply(_job(states, event.job_id), event)
    if job.abandoned:
        return job  # its SKUs went on to later jobs; JobEnded sends them again
    account, marketplace = job.account, job.marketplace
    states.prefetch((account, marketplace, s) for s in event.accepted)
    states.prefetch((account, marketplace, r.sku) for r in event.rejected)
    for name in event.accepted:
        state = states.sku((account, marketplace, name))
        states.put_sku(sku.accept(state, event.at))
    for rejection in event.rejected:
        state = states.sku((account, marketplace, rejection.sku))
        states.put_sku(
            sku.reject(state, rejection.code, rejection.message, rejection.retry_at, event.at)
        )
    return job


def fold(states: States, event: Event) -> None:
    """Apply ``event`` to every state it touches."""
    match event:
        case ChangeRecorded() | ListingRequested() | SellingStatusRequested() | ResendRequested():
            _fold_sku_event(states, event)
        case JobReserved():
            _fold_reserved(states, event)
        case FeedReportReceived():
            states.put_job(_fold_report(states, event))
        case JobEnded():
            _fold_end(states, event)
        case JobAbandoned():
            states.put_job(jobs.apply(_job(states, event.job_id), event))
            for state in states.skus_in_job(event.job_id):
                states.put_sku(sku.release(state, event.at))
        case _:
            job_id = getattr(event, "job_id", None)
            if job_id is None:
                raise TypeError(f"no fold for {event.type_name}")
            states.put_job(jobs.apply(_job(states, job_id), event))


def stream_version(states: States, event: Event) -> tuple[str, int]:
    """The stream ``event`` belongs to and its version there, read after :func:`fold`."""
    if isinstance(event, SkuEvent):
        state = states.sku((event.account, event.marketplace, event.sku))
        return sku_stream(event.account, event.marketplace, event.sku), state.stream_version
    job_id: int = getattr(event, "job_id")  # noqa: B009 - every other event is a job's
    return job_stream(job_id), _job(states, job_id).stream_version
