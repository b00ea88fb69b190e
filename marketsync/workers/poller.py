"""The poller: drives each job from reserved to Amazon's verdict.

Each call to :meth:`Poller.tick` leases the jobs that are due, advances each as far as it
can go without waiting, records what happened, and schedules its next look. Every step is
recorded *before* the next Amazon call that depends on it, so a crash anywhere is recovered
from the log:

* reserved → created: the document is built from the reserved items and frozen.
* created → processing: one createFeedDocument token taken; from here no cancel.
* processing: upload (FeedDocumentUploaded), then createFeed (FeedSubmitted). If a poller
  died between the two calls, the next one first asks getFeeds for a feed of this
  marketplace created since submission began that no other job owns, so no feed is ever
  submitted twice.
* waiting-for-result: getFeed until DONE, FATAL or CANCELLED; the report is read per item.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog

from marketsync.amazon.feeds import (
    AmazonError,
    AuthFailed,
    FeedInfo,
    FeedsGateway,
    Rejected,
    Throttled,
    Transient,
)
from marketsync.domain.events import (
    ApiCallDeferred,
    CreateFeedCalled,
    Event,
    FeedDocumentUploaded,
    FeedReportReceived,
    FeedStatusObserved,
    FeedSubmitted,
    ItemRejection,
    JobCreated,
    JobEnded,
    JobItem,
    JobMarkedStuck,
    JobProcessingStarted,
    JobReserved,
    job_stream,
)
from marketsync.domain.feed_document import (
    CONTENT_TYPE,
    FEED_TYPE,
    ReportUnreadable,
    build_document,
    read_report,
    sha256,
)
from marketsync.domain.jobs import IllegalTransition, JobState, JobStatus
from marketsync.eventlog import tables
from marketsync.eventlog.coordination import (
    announce,
    claim_jobs,
    drain,
    reschedule,
    take_tokens,
    tokens_wait,
)
from marketsync.eventlog.errors import DatabaseUnavailable
from marketsync.eventlog.store import EventStore, read_stream
from marketsync.settings import Settings
from marketsync.workers.batcher import SUBMISSION_BUCKETS, limit_for

log = structlog.get_logger(__name__)

GatewayFactory = Callable[[str, str], FeedsGateway]  # (account, marketplace) → gateway
MAX_DEFER = 300.0


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 16):04x}"


class Poller:
    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        gateway: GatewayFactory,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        crash_point: Callable[[str], None] = lambda _name: None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.gateway = gateway
        self.clock = clock
        self.owner = owner or owner_id()
        self.lease = settings.pipeline.lease
        # Fault injection seam: called at each step boundary where a crash must lose nothing
        # (tests/faults passes one that kills the step); a no-op in production.
        self.crash_point = crash_point

    def tick(self, limit: int = 20) -> int:
        """Advance every due job once; how many were looked at."""
        with self.store.write() as tx:
            jobs = claim_jobs(tx.connection, self.owner, self.clock(), self.lease, limit)
        for job in jobs:
            try:
                next_check = self._advance(job)
            except IllegalTransition as e:  # canceled or abandoned by an operator meanwhile
                log.info("job_changed_meanwhile", job_id=job.job_id, detail=str(e))
                next_check = self.clock()
            except DatabaseUnavailable:
                raise  # the loop waits for the database; the lease hands the job on
            except Exception:  # a bug in one job must not stop every other job
                log.exception("job_step_failed", job_id=job.job_id)
                next_check = self.clock() + MAX_DEFER
            self._note_announced_rates(job)
            with self.store.write() as tx:
                reschedule(tx.connection, job.job_id, next_check)
        return len(jobs)

    # --- recording -----------------------------------------------------------------------

    def _record(self, *events: Event) -> None:
        with self.store.write() as tx:
            for event in events:
                tx.record(event)
            if any(isinstance(e, JobEnded) for e in events):
                self.crash_point("recording_outcome")  # inside the transaction: rolled back
        for event in events:
            log.info(event.type_name, **_summary(event))

    def _take(self, job: JobState, operation: str) -> float:
        """Take a token for ``operation``; 0.0 when taken, else seconds to wait."""
        return self._take_all(job, (operation,))

    def _take_all(self, job: JobState, operations: tuple[str, ...]) -> float:
        """A token from each bucket, all or none; 0.0 when taken, else seconds to wait."""
        account = self.settings.account(job.account)
        limits = {op: limit_for(account, op) for op in operations}
        with self.store.write() as tx:
            return take_tokens(tx.connection, job.account, limits, self.clock())

    def _stream(self, job_id: int) -> list[Event]:
        with self.store.read() as connection:
            return [r.event for r in read_stream(connection, job_stream(job_id))]

    # --- the steps ---------------------------------------------------------------------------

    def _advance(self, job: JobState) -> float:
        """Move ``job`` on as far as possible; when to look at it again."""
        now = self.clock()
        try:
            if job.status == JobStatus.RESERVED:
                job = self._create(job)
            if job.status == JobStatus.CREATED:
                wait = self._start_processing(job)
                if wait > 0:
                    return now + wait
                return self._submit(self._current(job.job_id))
            if job.status == JobStatus.PROCESSING:
                return self._submit(job)
            if job.status == JobStatus.WAITING:
                return self._watch(job)
        except (Throttled, Transient) as e:
            return self._defer(job, e)
        except (Rejected, AuthFailed, ReportUnreadable) as e:
            self._end(self._current(job.job_id), "error", str(e), self._retry_at(1))
        return now + self.settings.pipeline.poll_interval

    def _start_processing(self, job: JobState) -> float:
        """created → processing, once no other job of its account and marketplace is
        between upload and FeedSubmitted, a createFeedDocument token is taken and both
        createFeed buckets hold one (taken later, right before createFeed).

        One submission at a time per account and marketplace is what lets a restarted
        poller tell its own feed apart in getFeeds (see :meth:`_find_submitted`).
        Returns 0.0 when started, else the seconds to wait.
        """
        t = tables.job_state
        account = self.settings.account(job.account)
        upload = {"createFeedDocument": limit_for(account, "createFeedDocument")}
        submit = {op: limit_for(account, op) for op in SUBMISSION_BUCKETS}
        with self.store.write() as tx:
            busy = tx.connection.execute(
                sa.select(sa.func.count()).where(
                    t.c.account == job.account,
                    t.c.marketplace == job.marketplace,
                    t.c.status == JobStatus.PROCESSING.value,
                )
            ).scalar_one()
            if busy:
                return 1.0
            now = self.clock()
            wait = tokens_wait(tx.connection, job.account, submit, now)
            wait = wait or take_tokens(tx.connection, job.account, upload, now)
            if wait == 0.0:
                tx.record(JobProcessingStarted(at=self.clock(), job_id=job.job_id))
        return wait

    def _current(self, job_id: int) -> JobState:
        with self.store.write() as tx:
            state = tx.states.job(job_id)
        assert state is not None
        return state

    def _reserved(self, job_id: int) -> JobReserved:
        reserved = self._stream(job_id)[0]
        assert isinstance(reserved, JobReserved)
        return reserved

    def _create(self, job: JobState) -> JobState:
        account = self.settings.account(job.account)
        items = self._reserved(job.job_id).items
        document = build_document(account.seller_id, job.marketplace, items)
        self._record(
            JobCreated(
                at=self.clock(),
                job_id=job.job_id,
                feed_type=FEED_TYPE,
                document=document,
                document_sha256=sha256(document),
            )
        )
        return self._current(job.job_id)

    def _submit(self, job: JobState) -> float:
        """Upload the frozen document (unless done), then createFeed: tokens from both
        createFeed buckets are taken right before each call, as Amazon counts it."""
        events = self._stream(job.job_id)
        gateway = self.gateway(job.account, job.marketplace)
        document_id = job.document_id
        if document_id is None:
            created = next(e for e in events if isinstance(e, JobCreated))
            document_id = gateway.create_feed_document(
                created.document.encode("utf-8"), CONTENT_TYPE
            )
            self.crash_point("after_upload")
            self._record(
                FeedDocumentUploaded(at=self.clock(), job_id=job.job_id, document_id=document_id)
            )
        called_before = job.create_feed_calls > 0
        feed_id = self._find_submitted(job, events, gateway) if called_before else None
        recovered = feed_id is not None
        if feed_id is None:
            wait = self._take_all(job, SUBMISSION_BUCKETS)
            if wait > 0:
                return self.clock() + wait
            self._record(
                CreateFeedCalled(at=self.clock(), job_id=job.job_id, document_id=document_id)
            )
            feed_id = gateway.create_feed(FEED_TYPE, document_id)
            self.crash_point("after_create_feed")
        self._record(
            FeedSubmitted(at=self.clock(), job_id=job.job_id, feed_id=feed_id, recovered=recovered)
        )
        return self.clock() + self.settings.pipeline.poll_interval

    def _find_submitted(
        self, job: JobState, events: list[Event], gateway: FeedsGateway
    ) -> str | None:
        """After a crash: the feed this job may already have created, found by getFeeds.

        A candidate is a feed of this marketplace created since submission began that no
        job of this account owns. Only one job per account and marketplace is between
        upload and FeedSubmitted at a time (:meth:`_start_processing` lets a job into
        processing only when no other job of its account and marketplace is there), so
        the match is unambiguous.
        """
        started = next(e for e in events if isinstance(e, JobProcessingStarted))
        wait = self._take(job, "getFeeds")
        if wait > 0:
            raise Throttled("getFeeds", f"waiting {wait:.0f}s for a token")
        since = datetime.fromtimestamp(started.at - 5, tz=UTC)
        candidates = [
            f
            for f in gateway.get_feeds(FEED_TYPE, since)
            if job.marketplace in f.marketplace_ids or not f.marketplace_ids
        ]
        with self.store.read() as connection:
            t = tables.job_state
            owned = set(
                connection.execute(
                    sa.select(t.c.feed_id).where(
                        t.c.account == job.account, t.c.feed_id.is_not(None)
                    )
                ).scalars()
            )
        unowned = sorted(
            (f for f in candidates if f.feed_id not in owned), key=lambda f: f.created_time
        )
        return unowned[0].feed_id if unowned else None

    def _watch(self, job: JobState) -> float:
        assert job.feed_id is not None
        wait = self._take(job, "getFeed")
        if wait > 0:
            return self.clock() + wait
        gateway = self.gateway(job.account, job.marketplace)
        info = gateway.get_feed(job.feed_id)
        now = self.clock()
        if info.status != job.feed_status:
            self._record(
                FeedStatusObserved(
                    at=now, job_id=job.job_id, feed_id=job.feed_id, status=info.status
                )
            )
        if info.status == "DONE":
            return self._conclude(job, info, gateway)
        if info.status == "FATAL":
            self._end(job, "error", "Amazon ended the feed FATAL", self._retry_at(1))
        elif info.status == "CANCELLED":
            self._end(job, "canceled", "the feed was canceled on Amazon")
        else:
            self._check_stuck(job, info, gateway)
        return now + self.settings.pipeline.poll_interval

    def _check_stuck(self, job: JobState, info: FeedInfo, gateway: FeedsGateway) -> None:
        """A feed Amazon holds too long: mark it; cancel it while it is still IN_QUEUE."""
        age = self.clock() - (job.submitted_at or job.created_at)
        if age < self.settings.pipeline.stuck_after:
            return
        if not job.stuck:
            self._record(
                JobMarkedStuck(at=self.clock(), job_id=job.job_id, feed_status=info.status, age=age)
            )
            log.warning("job_stuck", job_id=job.job_id, feed_status=info.status, age=age)
        if info.status != "IN_QUEUE" or self._take(job, "cancelFeed") > 0:
            return
        try:
            gateway.cancel_feed(info.feed_id)
        except Rejected as e:  # it started meanwhile: it is IN_PROGRESS now
            log.info("cancel_refused", job_id=job.job_id, reason=str(e))

    def _conclude(self, job: JobState, info: FeedInfo, gateway: FeedsGateway) -> float:
        if info.result_document_id is None:
            raise Transient("getFeed", "DONE without a resultFeedDocumentId yet")
        wait = self._take(job, "getFeedDocument")
        if wait > 0:
            return self.clock() + wait
        report = gateway.get_feed_result(info.result_document_id)
        self.crash_point("after_report_download")
        items = self._reserved(job.job_id).items
        outcome = read_report(report, items)
        rejected = self._with_retry_times(job, items, outcome.rejected)
        received = FeedReportReceived(
            at=self.clock(),
            job_id=job.job_id,
            feed_id=info.feed_id,
            report=report,
            accepted=outcome.accepted,
            rejected=rejected,
        )
        self._end(job, "done", "", 0.0, received)
        return self.clock()

    def _end(
        self, job: JobState, status: str, reason: str, retry_at: float = 0.0, *before: Event
    ) -> None:
        """Record the job's end (after ``before``); an abandoned job's SKUs go again."""
        resend: tuple[str, ...] = ()
        if job.abandoned:
            resend = tuple(item.sku for item in self._reserved(job.job_id).items)
        ended = JobEnded(
            at=self.clock(),
            job_id=job.job_id,
            status=status,
            reason=reason,
            retry_at=retry_at,
            resend=resend,
        )
        self._record(*before, ended)

    # --- retries -------------------------------------------------------------------------

    def _retry_at(self, attempt: int) -> float:
        p = self.settings.pipeline
        delay = min(p.retry_max, p.retry_base * 2.0 ** max(0, attempt - 1))
        return self.clock() + delay * random.uniform(0.8, 1.2)

    def _with_retry_times(
        self, job: JobState, items: tuple[JobItem, ...], rejected: tuple[ItemRejection, ...]
    ) -> tuple[ItemRejection, ...]:
        if not rejected:
            return rejected
        with self.store.write() as tx:
            keys = [(job.account, job.marketplace, r.sku) for r in rejected]
            tx.states.prefetch(keys)
            attempts = [tx.states.sku(k).attempts + 1 for k in keys]
        return tuple(
            ItemRejection(sku=r.sku, code=r.code, message=r.message, retry_at=self._retry_at(n))
            for r, n in zip(rejected, attempts, strict=True)
        )

    def _note_announced_rates(self, job: JobState) -> None:
        """Amazon said a limit is lower than ours (x-amzn-RateLimit-Limit): adopt it."""
        announced = self.gateway(job.account, job.marketplace).announced_rates()
        account = self.settings.account(job.account)
        for operation, rate in announced.items():
            limit = limit_for(account, operation)
            if rate < limit.rate:
                with self.store.write() as tx:
                    announce(tx.connection, job.account, operation, rate, limit, self.clock())
                log.warning(
                    "rate_limit_lowered",
                    account=job.account,
                    operation=operation,
                    configured=limit.rate,
                    announced=rate,
                )

    def _defer(self, job: JobState, error: AmazonError) -> float:
        job = self._current(job.job_id)
        delay = min(MAX_DEFER, 2.0 ** min(job.retry_streak, 8)) * random.uniform(0.5, 1.5)
        now = self.clock()
        if isinstance(error, Throttled):
            limit = limit_for(self.settings.account(job.account), error.operation)
            with self.store.write() as tx:
                drain(tx.connection, job.account, error.operation, limit, now)
            delay = max(delay, random.uniform(1.0, 1.5) / limit.rate)  # one token's refill
        if not job.final:
            self._record(
                ApiCallDeferred(
                    at=now,
                    job_id=job.job_id,
                    operation=error.operation,
                    reason=str(error),
                    retry_at=now + delay,
                )
            )
        return now + delay


def _summary(event: Event) -> dict[str, object]:
    data = event.to_data()
    for bulky in ("document", "report", "items", "accepted", "rejected"):
        if bulky in data:
            data[bulky] = len(data[bulky])
    data.pop("at", None)
    return data
