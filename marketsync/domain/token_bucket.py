"""Token buckets as Amazon describes them: ``rate`` tokens a second, at most ``burst`` held.

Pure arithmetic over an explicit clock reading, so the same code serves the pipeline's
persisted buckets (shared by every replica through the database) and the simulator's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Bucket:
    rate: float  # tokens per second
    burst: float  # capacity
    tokens: float
    updated_at: float  # seconds (any monotonic-enough clock the caller keeps using)

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> Bucket:
        return cls(rate=rate, burst=burst, tokens=burst, updated_at=now)

    def refilled(self, now: float) -> Bucket:
        elapsed = max(0.0, now - self.updated_at)
        tokens = min(self.burst, self.tokens + elapsed * self.rate)
        return replace(self, tokens=tokens, updated_at=max(now, self.updated_at))

    def available(self, now: float) -> float:
        return self.refilled(now).tokens

    def try_take(self, now: float, n: float = 1.0) -> tuple[bool, Bucket]:
        """Take ``n`` tokens if they are there; the bucket after the attempt either way."""
        bucket = self.refilled(now)
        if bucket.tokens + 1e-9 >= n:
            return True, replace(bucket, tokens=bucket.tokens - n)
        return False, bucket

    def wait_for(self, now: float, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens will be there (0 when they are)."""
        missing = n - self.refilled(now).tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate

    def adapted(self, rate: float | None = None, burst: float | None = None) -> Bucket:
        """The same bucket under a new limit (e.g. Amazon announced a lower rate)."""
        new_burst = self.burst if burst is None else burst
        return replace(
            self,
            rate=self.rate if rate is None else rate,
            burst=new_burst,
            tokens=min(self.tokens, new_burst),
        )

    def drained(self, now: float) -> Bucket:
        """After a 429: Amazon says the bucket is empty, whatever we counted."""
        return replace(self.refilled(now), tokens=0.0)


# Amazon's published defaults (rate per second, burst), per selling partner and application.
# Source: the operation descriptions in Amazon's OpenAPI models (../shared/spapi/REFERENCE.md).
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeeds": (0.0222, 10),
    "cancelFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    # Not an operation: Amazon's extra limit on JSON_LISTINGS_FEED submissions,
    # five per five minutes per region.
    "JSON_LISTINGS_FEED": (5 / 300, 5),
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "searchCatalogItems": (2.0, 2),
}
