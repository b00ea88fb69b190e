"""The in-memory Amazon: tokens, buckets, documents, feeds and listings behind one lock.

Time comes from an injectable monotonic ``clock``; ISO timestamps are that clock anchored to
the wall clock at start. Feed processing is evaluated lazily on every call: a feed stays
IN_QUEUE for ``in_queue_seconds`` and until the seller's previous feed has finished (Amazon
processes a seller's feeds one after another), then IN_PROGRESS for ``in_progress_seconds``,
then DONE (messages applied, report stored), FATAL or CANCELLED. Transitions are stamped with
the time they happened, not the time they were noticed.

Errors::

    SimulatorError   an SP-API error answer (status, code, message) for the app to render
    LwaError         a Login with Amazon error answer (error, error_description)
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import structlog

from marketsync.domain.token_bucket import Bucket

from .config import Faults, ServerError, SimulatorConfig, default_asin
from .rules import MARKETPLACE_CURRENCY, Listing, feed_skus, normalise_price, process_feed

log = structlog.get_logger(__name__)

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
# Legacy XML / flat-file listings feeds: accepted, but FATAL since 2025-07-31 (REFERENCE 2.7).
LEGACY_FEED_TYPES = frozenset({
    "POST_PRODUCT_DATA", "POST_INVENTORY_AVAILABILITY_DATA", "POST_PRODUCT_OVERRIDES_DATA",
    "POST_PRODUCT_PRICING_DATA", "POST_PRODUCT_IMAGE_DATA", "POST_PRODUCT_RELATIONSHIP_DATA",
    "POST_FLAT_FILE_INVLOADER_DATA", "POST_FLAT_FILE_LISTINGS_DATA",
    "POST_FLAT_FILE_BOOKLOADER_DATA", "POST_FLAT_FILE_CONVERGENCE_LISTINGS_DATA",
    "POST_FLAT_FILE_PRICEANDQUANTITYONLY_UPDATE_DATA", "POST_UIEE_BOOKLOADER_DATA",
})  # fmt: skip
TERMINAL = frozenset({"DONE", "CANCELLED", "FATAL"})
TOKEN_LIFETIME = 3600.0
URL_LIFETIME = 300.0
REPORT_CONTENT_TYPE = "application/json; charset=UTF-8"


class SimulatorError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


class LwaError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass(frozen=True, slots=True)
class Admission:
    """Whether an SP-API call may proceed: ``status`` 200, or the error status to answer."""

    status: int
    rate: float


@dataclass(frozen=True, slots=True)
class FeedQuery:
    feed_types: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    marketplaces: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(slots=True)
class Document:
    document_id: str
    seller_id: str
    content_type: str
    kind: str  # input | result
    content: bytes | None = None
    compressed: bool = False


@dataclass(slots=True)
class Feed:
    feed_id: str
    seller_id: str
    feed_type: str
    marketplace_ids: tuple[str, ...]
    input_document_id: str
    created_at: float
    message_count: int = 0
    skus: tuple[str, ...] = ()
    status: str = "IN_QUEUE"
    fate: str = "DONE"  # where processing ends: DONE | FATAL | CANCELLED
    hold: str | None = None  # IN_QUEUE | IN_PROGRESS while held
    released_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    result_document_id: str | None = None


@dataclass(slots=True)
class _Stats:
    requests: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)


class SimulatorState:
    def __init__(
        self,
        config: SimulatorConfig,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self._epoch = (clock(), wall_clock())
        self._lock = threading.Lock()
        self._url_key = secrets.token_bytes(32)
        self._feed_ids = itertools.count(50_001_000_001)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._documents: dict[str, Document] = {}
        self._feeds: dict[str, Feed] = {}
        self._queues: dict[str, list[Feed]] = {}
        self._listings: dict[str, dict[tuple[str, str], Listing]] = {
            a.seller_id: {} for a in config.accounts
        }
        self._known_asins: set[str] = set()
        self._stats = _Stats()
        self._faults = config.faults
        for seed in config.listings:
            self._store_listing(seed.seller_id, seed.marketplace_id, seed.listing)

    # -- Login with Amazon -------------------------------------------------------------------

    def issue_token(self, form: Mapping[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "refresh_token":
            raise LwaError(
                "unsupported_grant_type", "The authorization grant type is not supported"
            )
        for name in ("client_id", "client_secret", "refresh_token"):
            if not form.get(name):
                raise LwaError(
                    "invalid_request", f"The request is missing a required parameter : {name}"
                )
        clients = [
            a
            for a in self.config.accounts
            if _same(a.client_id, form["client_id"])
            and _same(a.client_secret, form["client_secret"])
        ]
        if not clients:
            raise LwaError("invalid_client", "Client authentication failed")
        account = next((a for a in clients if _same(a.refresh_token, form["refresh_token"])), None)
        if account is None:
            raise LwaError(
                "invalid_grant", "The request has an invalid grant parameter : refresh_token"
            )
        token = "Atza|" + secrets.token_urlsafe(48)
        with self._lock:
            self._stats.requests["token"] += 1
            self._tokens[token] = (account.seller_id, self._clock() + TOKEN_LIFETIME)
        return {
            "access_token": token,
            "refresh_token": form["refresh_token"],
            "token_type": "bearer",
            "expires_in": int(TOKEN_LIFETIME),
        }

    def seller_for(self, access_token: str) -> str | None:
        with self._lock:
            seller, expires_at = self._tokens.get(access_token, ("", 0.0))
            return seller if seller and self._clock() < expires_at else None

    # -- admission: faults and token buckets -------------------------------------------------

    def fault_delay(self, operation: str) -> float:
        with self._lock:
            return self._faults.delay.get(operation, 0.0)

    def admit(self, seller_id: str, operation: str) -> Admission:
        with self._lock:
            self._stats.requests[operation] += 1
            rate = self._bucket(seller_id, operation).rate
            faults = self._faults
            if faults.throttle.get(operation, 0) > 0:
                self._faults = replace(faults, throttle=_less(faults.throttle, operation))
                self._stats.throttled[operation] += 1
                return Admission(429, rate)
            error = faults.server_error.get(operation)
            if error is not None and error.count > 0:
                left = {
                    **faults.server_error,
                    operation: ServerError(error.count - 1, error.status),
                }
                self._faults = replace(
                    faults, server_error={k: v for k, v in left.items() if v.count}
                )
                return Admission(error.status, rate)
            if not self._take(seller_id, operation):
                self._stats.throttled[operation] += 1
                return Admission(429, rate)
            return Admission(200, rate)

    def _bucket(self, seller_id: str, key: str) -> Bucket:
        limit, now = self.config.limit(key), self._clock()
        announced = self._faults.announce_rate.get(key)
        rate = limit.rate if announced is None else announced * self.config.time_scale
        bucket = self._buckets.get((seller_id, key)) or Bucket.full(rate, limit.burst, now)
        if bucket.rate != rate:
            bucket = bucket.refilled(now).adapted(rate=rate)
        self._buckets[(seller_id, key)] = bucket
        return bucket

    def _take(self, seller_id: str, key: str) -> bool:
        taken, bucket = self._bucket(seller_id, key).try_take(self._clock())
        self._buckets[(seller_id, key)] = bucket
        return taken

    # -- documents ---------------------------------------------------------------------------

    def create_document(self, seller_id: str, content_type: str) -> Document:
        document_id = f"amzn1.tortuga.4.na.{uuid.uuid4()}.T{secrets.token_hex(6).upper()}"
        document = Document(document_id, seller_id, content_type, kind="input")
        with self._lock:
            self._documents[document_id] = document
        return document

    def document_of(self, seller_id: str, document_id: str) -> Document:
        with self._lock:
            self._advance()
            document = self._documents.get(document_id)
            if document is None or document.seller_id != seller_id:
                raise SimulatorError(
                    404, "NotFound", f"The feed document '{document_id}' was not found."
                )
            return document

    def url_query(self, document_id: str) -> str:
        """The presigned part of a document URL: valid for five minutes."""
        expires = int((self._clock() + URL_LIFETIME) * 1000)
        return f"expires={expires}&signature={self._sign(document_id, expires)}"

    def upload(
        self, document_id: str, expires: str, signature: str, content_type: str, body: bytes
    ) -> None:
        with self._lock:
            document = self._presigned(document_id, expires, signature)
            if document.kind != "input":
                raise SimulatorError(403, "AccessDenied", "Result documents cannot be overwritten.")
            if _media(content_type) != _media(document.content_type):
                raise SimulatorError(
                    403,
                    "SignatureDoesNotMatch",
                    f"The upload's Content-Type {content_type!r} is not the contentType "
                    f"{document.content_type!r} given to createFeedDocument.",
                )
            document.content = body

    def download(self, document_id: str, expires: str, signature: str) -> Document:
        with self._lock:
            document = self._presigned(document_id, expires, signature)
            if document.content is None:
                raise SimulatorError(404, "NoSuchKey", "The document has no content yet.")
            return document

    def _presigned(self, document_id: str, expires: str, signature: str) -> Document:
        document = self._documents.get(document_id)
        if document is None:
            raise SimulatorError(404, "NoSuchKey", "The specified document does not exist.")
        if not expires.isdigit() or not _same(self._sign(document_id, int(expires)), signature):
            raise SimulatorError(403, "SignatureDoesNotMatch", "The URL signature is not valid.")
        if self._clock() * 1000 > int(expires):
            raise SimulatorError(403, "AccessDenied", "Request has expired.")
        return document

    def _sign(self, document_id: str, expires: int) -> str:
        message = f"{document_id}:{expires}".encode()
        return hmac.new(self._url_key, message, hashlib.sha256).hexdigest()

    # -- feeds -------------------------------------------------------------------------------

    def create_feed(
        self, seller_id: str, feed_type: str, marketplace_ids: list[str], document_id: str
    ) -> str:
        if feed_type != JSON_LISTINGS_FEED and feed_type not in LEGACY_FEED_TYPES:
            raise SimulatorError(400, "InvalidInput", f"Invalid feedType '{feed_type}'.")
        if feed_type == JSON_LISTINGS_FEED and len(marketplace_ids) > 1:
            raise SimulatorError(
                400,
                "InvalidInput",
                "Too many 'marketplaceIds' values provided. Expected a maximum of 1.",
            )
        with self._lock:
            self._advance()
            document = self._documents.get(document_id)
            if document is None or document.seller_id != seller_id or document.kind != "input":
                raise SimulatorError(
                    400, "InvalidInput", f"Invalid inputFeedDocumentId '{document_id}'."
                )
            if document.content is None:
                raise SimulatorError(
                    400,
                    "InvalidInput",
                    f"The feed document '{document_id}' has no content; "
                    "upload it before calling createFeed.",
                )
            if feed_type == JSON_LISTINGS_FEED and not self._take(seller_id, JSON_LISTINGS_FEED):
                self._stats.throttled["createFeed"] += 1
                raise SimulatorError(
                    429, "QuotaExceeded", "You exceeded your quota for the requested resource."
                )
            feed = self._new_feed(seller_id, feed_type, tuple(marketplace_ids), document)
        log.info(
            "feed_created",
            feed_id=feed.feed_id,
            seller_id=seller_id,
            feed_type=feed_type,
            messages=feed.message_count,
            fate=feed.fate,
            hold=feed.hold,
        )
        return feed.feed_id

    def _new_feed(
        self, seller_id: str, feed_type: str, marketplaces: tuple[str, ...], document: Document
    ) -> Feed:
        count, skus = (
            feed_skus(document.content or b"") if feed_type == JSON_LISTINGS_FEED else (0, ())
        )
        feed = Feed(
            feed_id=str(next(self._feed_ids)),
            seller_id=seller_id,
            feed_type=feed_type,
            marketplace_ids=marketplaces,
            input_document_id=document.document_id,
            created_at=self._clock(),
            message_count=count,
            skus=skus,
        )
        faults = self._faults
        if feed_type in LEGACY_FEED_TYPES:
            feed.fate = "FATAL"
        elif faults.fatal_feeds:
            feed.fate, faults = "FATAL", replace(faults, fatal_feeds=faults.fatal_feeds - 1)
        elif faults.cancel_feeds:
            feed.fate, faults = "CANCELLED", replace(faults, cancel_feeds=faults.cancel_feeds - 1)
        if faults.hold is not None and faults.hold.count > 0:
            feed.hold = faults.hold.status
            left = replace(faults.hold, count=faults.hold.count - 1)
            faults = replace(faults, hold=left if left.count else None)
        self._faults = faults
        self._feeds[feed.feed_id] = feed
        self._queues.setdefault(seller_id, []).append(feed)
        return feed

    def feed_json(self, seller_id: str, feed_id: str) -> dict[str, Any]:
        with self._lock:
            self._advance()
            return self._render(self._feed_of(seller_id, feed_id))

    def query_feeds(self, seller_id: str, query: FeedQuery) -> list[dict[str, Any]]:
        """The seller's feeds matching ``query``, newest first."""
        with self._lock:
            self._advance()
            feeds = [f for f in self._queues.get(seller_id, []) if self._matches(f, query)]
            return [self._render(f) for f in reversed(feeds)]

    def _matches(self, feed: Feed, query: FeedQuery) -> bool:
        created = self._wall(feed.created_at)
        return (
            (query.feed_types is None or feed.feed_type in query.feed_types)
            and (query.statuses is None or feed.status in query.statuses)
            and (query.marketplaces is None or bool(query.marketplaces & set(feed.marketplace_ids)))
            and (query.since is None or created >= query.since)
            and (query.until is None or created <= query.until)
        )

    def cancel_feed(self, seller_id: str, feed_id: str) -> None:
        with self._lock:
            self._advance()
            feed = self._feed_of(seller_id, feed_id)
            if feed.status != "IN_QUEUE":
                raise SimulatorError(
                    400,
                    "InvalidInput",
                    f"Feed {feed_id} cannot be cancelled: its processingStatus is "
                    f"{feed.status}. Only feeds that are IN_QUEUE can be cancelled.",
                )
            self._finish(feed, "CANCELLED", self._clock())

    def _feed_of(self, seller_id: str, feed_id: str) -> Feed:
        feed = self._feeds.get(feed_id)
        if feed is None or feed.seller_id != seller_id:
            raise SimulatorError(404, "NotFound", f"The feed '{feed_id}' was not found.")
        return feed

    def _render(self, feed: Feed) -> dict[str, Any]:
        body: dict[str, Any] = {
            "feedId": feed.feed_id,
            "feedType": feed.feed_type,
            "marketplaceIds": list(feed.marketplace_ids),
            "createdTime": self._iso(feed.created_at),
            "processingStatus": feed.status,
        }
        if feed.started_at is not None:
            body["processingStartTime"] = self._iso(feed.started_at)
        if feed.ended_at is not None and feed.status != "CANCELLED":
            body["processingEndTime"] = self._iso(feed.ended_at)
        if feed.result_document_id is not None:
            body["resultFeedDocumentId"] = feed.result_document_id
        return body

    # -- the lazy lifecycle ------------------------------------------------------------------

    def _advance(self) -> None:
        now = self._clock()
        for feeds in self._queues.values():
            free_at = float("-inf")  # when the seller's previous feed finished
            for feed in feeds:
                if not self._step(feed, now, free_at):
                    break
                if feed.ended_at is not None:
                    free_at = max(free_at, feed.ended_at)

    def _step(self, feed: Feed, now: float, free_at: float) -> bool:
        """Move ``feed`` as far as ``now`` allows; True once it is finished."""
        never = float("-inf")
        if feed.status == "IN_QUEUE":
            if feed.hold == "IN_QUEUE":
                return False
            start = max(
                feed.created_at + self.config.queue_duration, free_at, feed.released_at or never
            )
            if start > now:
                return False
            if feed.fate == "CANCELLED":
                self._finish(feed, "CANCELLED", start)
                return True
            feed.started_at = start
            self._changed(feed, "IN_PROGRESS")
        if feed.status == "IN_PROGRESS":
            assert feed.started_at is not None
            if feed.hold == "IN_PROGRESS":
                return False
            end = max(feed.started_at + self.config.progress_duration, feed.released_at or never)
            if end > now:
                return False
            self._finish(feed, feed.fate, end)
        return True

    def _finish(self, feed: Feed, status: str, at: float) -> None:
        feed.ended_at, feed.hold = at, None
        if status == "DONE" and feed.feed_type == JSON_LISTINGS_FEED:
            self._process(feed, at)
        self._changed(feed, status)

    def _changed(self, feed: Feed, status: str) -> None:
        previous, feed.status = feed.status, status
        log.info(
            "feed_status_changed",
            feed_id=feed.feed_id,
            seller_id=feed.seller_id,
            previous=previous,
            status=status,
        )

    def _process(self, feed: Feed, at: float) -> None:
        marketplace = feed.marketplace_ids[0]
        store = self._listings.setdefault(feed.seller_id, {})
        before = {sku: listing for (mp, sku), listing in store.items() if mp == marketplace}
        rules = self.config.rules
        result = process_feed(
            self._documents[feed.input_document_id].content or b"",
            seller_id=feed.seller_id,
            feed_id=feed.feed_id,
            marketplace_id=marketplace,
            listings=before,
            rules=replace(rules, known_asins=rules.known_asins | self._known_asins),
        )
        for sku in result.changed:
            if sku in result.listings:
                self._store_listing(feed.seller_id, marketplace, result.listings[sku], at)
            else:
                store.pop((marketplace, sku), None)
        feed.result_document_id = self._store_report(feed.seller_id, result.report)

    def _store_report(self, seller_id: str, report: dict[str, Any]) -> str:
        content = json.dumps(report, ensure_ascii=False).encode("utf-8")
        compressed = self.config.gzip_reports
        document = Document(
            document_id=f"amzn1.tortuga.4.na.{uuid.uuid4()}.T{secrets.token_hex(6).upper()}",
            seller_id=seller_id,
            content_type=REPORT_CONTENT_TYPE,
            kind="result",
            content=gzip.compress(content) if compressed else content,
            compressed=compressed,
        )
        self._documents[document.document_id] = document
        return document.document_id

    # -- inspection and control (tests, demos) -----------------------------------------------

    def listings(self, seller_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            store = self._known_seller(seller_id)
            return [_listing_json(mp, listing) for (mp, _), listing in sorted(store.items())]

    def put_listing(self, seller_id: str, sku: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace a listing as if the seller had done it in Seller Central."""
        unknown = sorted(set(fields) - {"marketplace_id", "quantity", "price", "currency", "asin"})
        marketplace = fields.get("marketplace_id")
        if unknown or not isinstance(marketplace, str) or not marketplace:
            raise SimulatorError(
                400,
                "InvalidInput",
                "Expected {marketplace_id, quantity?, price?, "
                f"currency?, asin?}}; unknown: {unknown}",
            )
        with self._lock:
            self._advance()
            current = self._known_seller(seller_id).get((marketplace, sku))
            listing = _edited(current, sku, marketplace, fields)
            self._store_listing(seller_id, marketplace, listing, self._clock())
            return _listing_json(marketplace, self._listings[seller_id][(marketplace, sku)])

    def inspect_feeds(self, seller_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            return [
                self._inspect(f) for f in self._feeds.values() if seller_id in (None, f.seller_id)
            ]

    def release(self, feed_id: str) -> dict[str, Any]:
        with self._lock:
            self._advance()
            feed = self._feeds.get(feed_id)
            if feed is None:
                raise SimulatorError(404, "NotFound", f"The feed '{feed_id}' was not found.")
            if feed.hold is None:
                raise SimulatorError(400, "InvalidInput", f"Feed {feed_id} is not held.")
            feed.hold, feed.released_at = None, self._clock()
            log.info("feed_released", feed_id=feed_id, seller_id=feed.seller_id)
            self._advance()
            return self._inspect(feed)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            self._advance()
            return {
                "requests": dict(self._stats.requests),
                "throttled": dict(self._stats.throttled),
                "throttled_total": sum(self._stats.throttled.values()),
                "feeds": dict(Counter(f.status for f in self._feeds.values())),
            }

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
        log.info("faults_set", faults=faults.to_json())

    def _inspect(self, feed: Feed) -> dict[str, Any]:
        return {
            "feedId": feed.feed_id,
            "sellerId": feed.seller_id,
            "feedType": feed.feed_type,
            "marketplaceId": feed.marketplace_ids[0] if feed.marketplace_ids else None,
            "processingStatus": feed.status,
            "createdTime": self._iso(feed.created_at),
            "messageCount": feed.message_count,
            "skus": list(feed.skus),
            "held": feed.hold,
            "resultFeedDocumentId": feed.result_document_id,
        }

    def _known_seller(self, seller_id: str) -> dict[tuple[str, str], Listing]:
        store = self._listings.get(seller_id)
        if store is None:
            raise SimulatorError(404, "NotFound", f"No account with seller_id '{seller_id}'.")
        return store

    def _store_listing(
        self, seller_id: str, marketplace: str, listing: Listing, at: float | None = None
    ) -> None:
        stamped = replace(listing, updated_at=self._iso(self._clock() if at is None else at))
        self._listings.setdefault(seller_id, {})[(marketplace, listing.sku)] = stamped
        if listing.asin:
            self._known_asins.add(listing.asin)

    # -- time --------------------------------------------------------------------------------

    def _wall(self, at: float) -> datetime:
        mono, wall = self._epoch
        return datetime.fromtimestamp(wall + (at - mono), UTC)

    def _iso(self, at: float) -> str:
        return self._wall(at).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _edited(
    current: Listing | None, sku: str, marketplace: str, fields: Mapping[str, Any]
) -> Listing:
    base = current or Listing(
        sku=sku, asin=default_asin(sku), currency=MARKETPLACE_CURRENCY.get(marketplace, "USD")
    )
    quantity = fields.get("quantity", base.quantity)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise SimulatorError(400, "InvalidInput", "quantity must be a whole number >= 0")
    try:
        price = (
            base.price
            if "price" not in fields
            else (None if fields["price"] is None else normalise_price(fields["price"]))
        )
    except ValueError as e:
        raise SimulatorError(400, "InvalidInput", f"price: {e}") from None
    currency, asin = fields.get("currency", base.currency), fields.get("asin", base.asin)
    if not isinstance(currency, str) or not (asin is None or isinstance(asin, str)):
        raise SimulatorError(400, "InvalidInput", "currency and asin must be strings")
    return Listing(sku=sku, asin=asin, quantity=quantity, price=price, currency=currency)


def _listing_json(marketplace: str, listing: Listing) -> dict[str, Any]:
    return {
        "sku": listing.sku,
        "marketplace_id": marketplace,
        "asin": listing.asin,
        "quantity": listing.quantity,
        "price": listing.price,
        "currency": listing.currency,
        "status": listing.status,
        "updated_at": listing.updated_at,
    }


def _less(counts: Mapping[str, int], key: str) -> dict[str, int]:
    left = {**counts, key: counts[key] - 1}
    return {k: v for k, v in left.items() if v > 0}


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _media(content_type: str) -> str:
    return "".join(content_type.lower().split())
