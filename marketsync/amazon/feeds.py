"""The Feeds port: what the poller needs from Amazon, in our own types.

Errors (one ``except`` ladder decides retry or fail)::

    AmazonError
    ├── Throttled      429: retry later with backoff; the bucket adapts
    ├── Transient      5xx, timeouts, connection trouble: retry later with backoff
    ├── Rejected       any other 4xx: the call will not succeed as it is; fail the job
    └── AuthFailed     Login with Amazon refused the credentials: fail, tell the operator
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class AmazonError(Exception):
    def __init__(self, operation: str, message: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation


class Throttled(AmazonError):
    pass


class Transient(AmazonError):
    pass


class Rejected(AmazonError):
    pass


class AuthFailed(AmazonError):
    pass


@dataclass(frozen=True, slots=True)
class FeedInfo:
    feed_id: str
    feed_type: str
    status: str  # IN_QUEUE, IN_PROGRESS, DONE, CANCELLED, FATAL
    created_time: str
    marketplace_ids: tuple[str, ...] = ()
    result_document_id: str | None = None


class FeedsGateway(Protocol):
    """Feeds API 2021-06-30 for one account and marketplace."""

    def create_feed_document(self, content: bytes, content_type: str) -> str:
        """Create an input document and upload ``content``; returns the feedDocumentId."""
        ...

    def create_feed(self, feed_type: str, document_id: str) -> str:
        """Submit the uploaded document; returns the feedId."""
        ...

    def get_feed(self, feed_id: str) -> FeedInfo: ...

    def get_feeds(self, feed_type: str, created_since: datetime) -> list[FeedInfo]: ...

    def cancel_feed(self, feed_id: str) -> None: ...

    def get_feed_result(self, document_id: str) -> str:
        """The processing report's text (decompressed when Amazon gzipped it)."""
        ...

    def announced_rates(self) -> dict[str, float]:
        """Rates Amazon announced (x-amzn-RateLimit-Limit) since the last call, by operation."""
        ...
