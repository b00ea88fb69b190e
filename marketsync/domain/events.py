"""The facts marketsync records in its event log.

Every event is a frozen dataclass with JSON-native fields (strings, numbers, tuples of small
records), so ``to_data``/``from_data`` are plain and replay reads exactly what was written.
Times are seconds since the epoch (``at``), set by the code that decided the event, so that
folding an event never looks at a clock.

One registry (:data:`EVENT_TYPES`) maps the type name stored in the log to the class.
"""

from __future__ import annotations

import dataclasses
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from marketsync.frozen import from_mapping, quick_init

SCHEMA_VERSION = 1

E = TypeVar("E", bound="Event")
EVENT_TYPES: dict[str, type[Event]] = {}
R = TypeVar("R", bound=type)
# Each record class read from the log (events and their nested records) and its
# frozen.from_mapping: what cls(**data) builds, without the keyword call.
BUILDERS: dict[type, Callable[[Mapping[str, Any]], Any]] = {}


def log_record(cls: R) -> R:
    """A frozen, slotted record class read from the log: give it :func:`quick_init`'s
    constructor, and register how to build it from its fields' mapping."""
    quick_init(cls)
    BUILDERS[cls] = from_mapping(cls)
    return cls


def event_type(name: str) -> Callable[[type[E]], type[E]]:
    """Register an event class under the type name stored in the log (and give it the
    cheaper ``__init__`` of :mod:`marketsync.frozen`: replay builds one per event)."""

    def register(cls: type[E]) -> type[E]:
        if name in EVENT_TYPES:
            raise ValueError(f"event type {name} registered twice")
        log_record(cls)
        cls.type_name = name
        cls.field_names = tuple(f.name for f in dataclasses.fields(cls))
        EVENT_TYPES[name] = cls
        return cls

    return register


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    type_name: ClassVar[str] = ""
    nested: ClassVar[Mapping[str, type[Any]]] = {}
    field_names: ClassVar[tuple[str, ...]] = ()  # set by @event_type

    at: float

    def fields(self) -> dict[str, Any]:
        """The fields by name, nested records as they are (the event store's JSON encoder
        writes a record as an object itself: a 25,000-item job would otherwise build 16 MB
        of dictionaries first)."""
        return {name: getattr(self, name) for name in self.field_names}

    def to_data(self) -> dict[str, Any]:
        """The fields as JSON-native values: one level deep, as events are (cheaper than
        ``dataclasses.asdict``, which copies every value recursively)."""
        data = self.fields()
        for name in self.nested:
            data[name] = tuple(dataclasses.asdict(record) for record in data[name])
        return data

    @classmethod
    def from_data(cls: type[E], data: Mapping[str, Any]) -> E:
        """The event whose fields ``data`` holds: ``cls(**data)``, nested records built
        from their own mappings likewise (see :data:`BUILDERS`)."""
        if not cls.nested:
            built: E = BUILDERS[cls](data)
            return built
        values = dict(data)
        for name, nested in cls.nested.items():
            build = BUILDERS[nested]
            values[name] = tuple(build(item) for item in values.get(name, ()))
        built = BUILDERS[cls](values)
        return built


def new_event_id() -> str:
    return str(uuid.uuid4())


SKU_STREAM = "sku:"


def sku_stream(account: str, marketplace: str, sku: str) -> str:
    return f"{SKU_STREAM}{account}:{marketplace}:{sku}"


def stream_shard(stream: str) -> int | None:
    """A SKU stream's shard: the CRC-32 of its UTF-8 text (31 bits, so that it fits a 4-byte
    integer column); None for any other stream (a job's), which every shard needs.

    The log stores it beside each event, so that a process rebuilding one share of the SKUs
    (``shard % count == index``) asks the database for exactly its events without any
    string work on every row. A hash of the whole name spreads any catalog evenly, however
    its SKUs are named."""
    if not stream.startswith(SKU_STREAM):
        return None
    return shard_of(stream)


def shard_of(stream: str) -> int:
    """The shard of a stream known to be a SKU's (see :func:`stream_shard`)."""
    return zlib.crc32(stream.encode("utf-8", "surrogatepass")) & 0x7FFFFFFF


def job_stream(job_id: int) -> str:
    return f"job:{job_id}"


# --- storefront changes (stream: one per account, marketplace and SKU) -------------------


@event_type("ChangeRecorded")
@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeRecorded(Event):
    """A storefront's stock or price change, as received (event id = the storefront's id)."""

    account: str
    marketplace: str
    sku: str
    version: int
    quantity: int | None = None
    price: str | None = None
    currency: str | None = None
    occurred_at: str = ""


@event_type("ListingRequested")
@dataclass(frozen=True, kw_only=True, slots=True)
class ListingRequested(Event):
    """The storefront (or an operator) wants this SKU sold as an offer on an existing ASIN."""

    account: str
    marketplace: str
    sku: str
    version: int
    asin: str
    condition: str
    quantity: int
    price: str
    currency: str
    source: str = "storefront"


@event_type("SellingStatusRequested")
@dataclass(frozen=True, kw_only=True, slots=True)
class SellingStatusRequested(Event):
    """Stop selling (quantity 0, no more syncs), remove (quantity 0, then delete), or relist.

    ``version`` is the storefront's; an operator's request (``source`` = operator) applies
    whatever the version.
    """

    account: str
    marketplace: str
    sku: str
    status: str  # "stopped" | "removed" | "active"
    version: int = -1
    source: str = "storefront"


@event_type("ResendRequested")
@dataclass(frozen=True, kw_only=True, slots=True)
class ResendRequested(Event):
    """An operator asked to send this SKU's current values again (e.g. after a restore)."""

    account: str
    marketplace: str
    sku: str


# --- jobs (stream: one per job) --------------------------------------------------------


@log_record
@dataclass(frozen=True, kw_only=True, slots=True)
class JobItem:
    """One SKU a job carries, with the versions of the values it sends.

    ``action``: ``update`` (quantity/price PATCH), ``list`` (offer-only UPDATE on ``asin``),
    ``stop`` and ``zero`` (quantity 0), ``delete`` (DELETE the listing).
    """

    sku: str
    message_id: int
    action: str = "update"
    asin: str | None = None
    condition: str | None = None
    listing_version: int | None = None
    status_version: int | None = None
    quantity: int | None = None
    quantity_version: int | None = None
    price: str | None = None
    currency: str | None = None
    price_version: int | None = None


@log_record
@dataclass(frozen=True, kw_only=True, slots=True)
class ItemRejection:
    sku: str
    code: str
    message: str
    retry_at: float = 0.0  # when the item may be sent again


@event_type("JobReserved")
@dataclass(frozen=True, kw_only=True, slots=True)
class JobReserved(Event):
    """A job id was allocated and its items claimed from the pending queue."""

    nested: ClassVar[Mapping[str, type[Any]]] = {"items": JobItem}

    job_id: int
    account: str
    marketplace: str
    job_type: str
    items: tuple[JobItem, ...]


@event_type("JobCreated")
@dataclass(frozen=True, kw_only=True, slots=True)
class JobCreated(Event):
    """The feed content is frozen: this exact document is what will be sent."""

    job_id: int
    feed_type: str
    document: str
    document_sha256: str


@event_type("JobProcessingStarted")
@dataclass(frozen=True, kw_only=True, slots=True)
class JobProcessingStarted(Event):
    """Submission to Amazon began; from here the job can no longer be canceled."""

    job_id: int


@event_type("FeedDocumentUploaded")
@dataclass(frozen=True, kw_only=True, slots=True)
class FeedDocumentUploaded(Event):
    job_id: int
    document_id: str


@event_type("CreateFeedCalled")
@dataclass(frozen=True, kw_only=True, slots=True)
class CreateFeedCalled(Event):
    """Recorded just before createFeed: from here a feed may exist on Amazon, so a retry
    first looks for it (getFeeds) rather than create a second one."""

    job_id: int
    document_id: str


@event_type("FeedSubmitted")
@dataclass(frozen=True, kw_only=True, slots=True)
class FeedSubmitted(Event):
    """Amazon holds the feed. ``recovered`` when found by getFeeds after a crash."""

    job_id: int
    feed_id: str
    recovered: bool = False


@event_type("FeedStatusObserved")
@dataclass(frozen=True, kw_only=True, slots=True)
class FeedStatusObserved(Event):
    """Amazon reported a new processing status (recorded only when it changes)."""

    job_id: int
    feed_id: str
    status: str


@event_type("JobMarkedStuck")
@dataclass(frozen=True, kw_only=True, slots=True)
class JobMarkedStuck(Event):
    """Amazon has held the feed longer than the configured age."""

    job_id: int
    feed_status: str
    age: float


@event_type("JobAbandoned")
@dataclass(frozen=True, kw_only=True, slots=True)
class JobAbandoned(Event):
    """An operator released a stuck job's items to later jobs; its feed is still watched."""

    job_id: int
    reason: str = ""


@event_type("ApiCallDeferred")
@dataclass(frozen=True, kw_only=True, slots=True)
class ApiCallDeferred(Event):
    """A call for this job was throttled or failed transiently and will be tried again."""

    job_id: int
    operation: str
    reason: str
    retry_at: float


@event_type("FeedReportReceived")
@dataclass(frozen=True, kw_only=True, slots=True)
class FeedReportReceived(Event):
    """Amazon's processing report, and what it means for each item the job carried."""

    nested: ClassVar[Mapping[str, type[Any]]] = {"rejected": ItemRejection}

    job_id: int
    feed_id: str
    report: str
    accepted: tuple[str, ...]
    rejected: tuple[ItemRejection, ...]


@event_type("JobEnded")
@dataclass(frozen=True, kw_only=True, slots=True)
class JobEnded(Event):
    """The job reached a final state: ``done``, ``error`` or ``canceled``.

    For error and canceled, every item still in the job returns to the pending queue;
    ``retry_at`` is when an errored item may be sent again.
    """

    job_id: int
    status: str
    reason: str = ""
    retry_at: float = 0.0
    resend: tuple[str, ...] = ()  # an abandoned job's SKUs, to be sent again with newest values


def decode(type_name: str, data: Mapping[str, Any]) -> Event:
    try:
        cls = EVENT_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown event type {type_name!r}") from None
    return cls.from_data(data)
