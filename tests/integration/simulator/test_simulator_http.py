"""The SP-API simulator over HTTP, driven by the real ``python-amazon-sp-api`` client.

No external service is needed, so these tests never skip (except the schema checks when
Amazon's files in ../shared/spapi are absent).
"""

from __future__ import annotations

import gzip
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import structlog
from sp_api.api import Feeds
from sp_api.auth import AccessTokenClient, access_token_client
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
)

from marketsync.amazon.simulator import SimulatorConfig, SimulatorServer, SimulatorState
from marketsync.settings import Settings, parse_settings

pytestmark = pytest.mark.integration

SPAPI = Path(__file__).resolve().parents[3] / ".." / "shared" / "spapi"
DE, FR = "A1PA6795UKMFR9", "A13V1IB3VIYZZH"
SELLER_A, SELLER_B = "A1SELLERAAAAAA", "A2SELLERBBBBBB"
# Short processing times; getFeed roomy enough for polling every 30 ms.
FAST = {
    "in_queue_seconds": 0.05,
    "in_progress_seconds": 0.05,
    "limits": {"getFeed": {"rate": 50, "burst": 50}},
}
JSON_TYPE = "application/json; charset=UTF-8"


# -- fixtures ----------------------------------------------------------------------------------


class Sim:
    """A running simulator plus the credentials of its two accounts."""

    def __init__(self, server: SimulatorServer, secrets: dict[str, dict[str, str]]) -> None:
        self.server, self.secrets, self.url = server, secrets, server.url

    def feeds(self, seller: str = SELLER_A, **override: str) -> Any:
        """A real sp_api Feeds client pointed at the simulator."""
        host = self.url.removeprefix("http://")

        class LocalLwa(AccessTokenClient):  # type: ignore[misc]
            scheme, path = "http://", "/auth/o2/token"

        LocalLwa.host = host
        credentials = {**self.secrets[seller], **override}
        client = Feeds(
            marketplace=Marketplaces.DE,
            credentials=credentials,
            auth_token_client_class=LocalLwa,
            timeout=10,
        )
        client.endpoint = self.url
        return client

    def token(self, seller: str = SELLER_A) -> str:
        secrets = self.secrets[seller]
        form = {
            "grant_type": "refresh_token",
            "client_id": secrets["lwa_app_id"],
            "client_secret": secrets["lwa_client_secret"],
            "refresh_token": secrets["refresh_token"],
        }
        response = httpx.post(f"{self.url}/auth/o2/token", data=form)
        return str(response.json()["access_token"])

    def get(self, path: str, **params: Any) -> Any:
        return httpx.get(f"{self.url}{path}", params=params).json()

    def put(self, path: str, body: object) -> httpx.Response:
        return httpx.put(f"{self.url}{path}", json=body)


def settings_for(simulator: dict[str, Any]) -> tuple[Settings, dict[str, dict[str, str]]]:
    """Settings with two accounts whose secrets are unique to this test (sp_api caches tokens)."""
    environ, accounts, secrets = {}, [], {}
    for name, seller in (("a", SELLER_A), ("b", SELLER_B)):
        values = {
            "lwa_app_id": f"amzn1.application-oa2-client.{name}",
            "lwa_client_secret": f"secret-{name}-{uuid.uuid4()}",
            "refresh_token": f"Atzr|{name}-{uuid.uuid4()}",
        }
        for key, value in values.items():
            environ[f"{name.upper()}_{key.upper()}"] = value
        accounts.append(
            {
                "name": name,
                "seller_id": seller,
                "marketplaces": [DE],
                "lwa_client_id": f"env:{name.upper()}_LWA_APP_ID",
                "lwa_client_secret": f"env:{name.upper()}_LWA_CLIENT_SECRET",
                "refresh_token": f"env:{name.upper()}_REFRESH_TOKEN",
            }
        )
        secrets[seller] = values
    return parse_settings({"accounts": accounts, "simulator": simulator}, environ), secrets


@pytest.fixture
def simulator() -> Iterator[Callable[..., Sim]]:
    """Start a simulator configured by the given [simulator] table; stopped after the test."""
    servers: list[SimulatorServer] = []
    access_token_client.cache.clear()

    def start(**table: Any) -> Sim:
        settings, secrets = settings_for({**FAST, **table})
        state = SimulatorState(SimulatorConfig.from_settings(settings))
        server = SimulatorServer(state).start()
        servers.append(server)
        return Sim(server, secrets)

    yield start
    for server in servers:
        server.stop()


def seeded(*skus: str, seller: str = SELLER_A) -> list[dict[str, Any]]:
    return [
        {"seller_id": seller, "sku": sku, "marketplace_id": DE, "quantity": 1, "price": 10}
        for sku in skus
    ]


# -- feed documents ------------------------------------------------------------------------------


def quantity(sku: str, value: int, mid: int) -> dict[str, Any]:
    patch = {
        "op": "replace",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": value}],
    }
    return {"messageId": mid, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
            "patches": [patch]}  # fmt: skip


def price(sku: str, value: float, mid: int) -> dict[str, Any]:
    offer = {"marketplace_id": DE, "currency": "EUR", "audience": "ALL",
             "our_price": [{"schedule": [{"value_with_tax": value}]}]}  # fmt: skip
    patch = {"op": "replace", "path": "/attributes/purchasable_offer", "value": [offer]}
    return {"messageId": mid, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
            "patches": [patch]}  # fmt: skip


def document(*messages: dict[str, Any], seller: str = SELLER_A) -> io.BytesIO:
    body = {"header": {"sellerId": seller, "version": "2.0"}, "messages": list(messages)}
    return io.BytesIO(json.dumps(body, ensure_ascii=False).encode("utf-8"))


def submit(feeds: Any, content: io.BytesIO, marketplaces: list[str] | None = None) -> str:
    _, response = feeds.submit_feed(
        "JSON_LISTINGS_FEED", content, content_type=JSON_TYPE, marketplaceIds=marketplaces or [DE]
    )
    return str(response.payload["feedId"])


def wait_for(feeds: Any, feed_id: str, *statuses: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        feed: dict[str, Any] = feeds.get_feed(feed_id).payload
        if feed["processingStatus"] in statuses or time.monotonic() > deadline:
            assert feed["processingStatus"] in statuses, feed
            return feed
        time.sleep(0.03)


def report_of(feeds: Any, feed: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(
        feeds.get_feed_result_document(feed["resultFeedDocumentId"])
    )
    jsonschema.validate(
        report, amazon_file("schemas/feeds/listings-feed-processing-report-schema-v2.json")
    )
    return report


def amazon_file(name: str) -> dict[str, Any]:
    path = SPAPI / name
    if not path.exists():
        pytest.skip(f"Amazon's file {path} is not available")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def listings(sim: Sim, seller: str = SELLER_A) -> dict[str, dict[str, Any]]:
    return {item["sku"]: item for item in sim.get(f"/_simulator/listings/{seller}")["listings"]}


# -- the happy path ------------------------------------------------------------------------------


def test_feed_updates_listings_and_reports_unknown_skus(simulator: Callable[..., Sim]) -> None:
    """A JSON_LISTINGS_FEED of quantity and price PATCHes is DONE, applied, and reported."""
    sim = simulator(listings=seeded("SKU-1", "SKU-2"))
    feeds = sim.feeds()
    content = document(quantity("SKU-1", 7, 1), price("SKU-2", 19.999, 2), quantity("GHOST", 3, 3))
    feed = wait_for(feeds, submit(feeds, content), "DONE")
    report = report_of(feeds, feed)
    assert report["header"] == {"sellerId": SELLER_A, "version": "2.0", "feedId": feed["feedId"]}
    assert [(i["messageId"], i["sku"], i["severity"]) for i in report["issues"]] == [
        (3, "GHOST", "ERROR")
    ]
    assert report["summary"]["messagesAccepted"] == 2
    assert report["summary"]["messagesInvalid"] == 1
    now = listings(sim)
    assert (now["SKU-1"]["quantity"], now["SKU-1"]["price"]) == (7, "10.00")
    assert (now["SKU-2"]["quantity"], now["SKU-2"]["price"]) == (1, "20.00")
    assert "GHOST" not in now


def test_offer_only_update_creates_a_listing(simulator: Callable[..., Sim]) -> None:
    """UPDATE with LISTING_OFFER_ONLY creates a buyable offer; an unknown ASIN is rejected."""
    sim = simulator(rules={"unknown_asins": ["B000000404"]})
    feeds = sim.feeds()

    def offer(sku: str, asin: str, mid: int) -> dict[str, Any]:
        attributes = {
            "merchant_suggested_asin": [{"value": asin, "marketplace_id": DE}],
            "condition_type": [{"value": "new_new", "marketplace_id": DE}],
            "purchasable_offer": price("x", 24.9, 0)["patches"][0]["value"],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}],
        }
        return {"messageId": mid, "sku": sku, "operationType": "UPDATE", "productType": "PRODUCT",
                "requirements": "LISTING_OFFER_ONLY", "attributes": attributes}  # fmt: skip

    content = document(offer("NEW-1", "B08YRD1CNN", 1), offer("NEW-2", "B000000404", 2))
    report = report_of(feeds, wait_for(feeds, submit(feeds, content), "DONE"))
    assert [(i["messageId"], i["code"]) for i in report["issues"]] == [(2, "8566")]
    assert listings(sim)["NEW-1"] | {"updated_at": ""} == {
        "sku": "NEW-1", "marketplace_id": DE, "asin": "B08YRD1CNN", "quantity": 5,
        "price": "24.90", "currency": "EUR", "status": "ACTIVE", "updated_at": "",
    }  # fmt: skip


def test_unparsable_document_is_done_with_a_feed_level_issue(simulator: Callable[..., Sim]) -> None:
    """A document that is not JSON ends DONE with one issue without messageId."""
    sim = simulator()
    feeds = sim.feeds()
    feed = wait_for(feeds, submit(feeds, io.BytesIO(b'{"header": ')), "DONE")
    report = report_of(feeds, feed)
    assert [i["code"] for i in report["issues"]] == ["4002001"]
    assert "messageId" not in report["issues"][0]
    assert report["summary"]["messagesProcessed"] == 0


def test_unicode_survives_the_round_trip(simulator: Callable[..., Sim]) -> None:
    """UTF-8 SKUs (e.g. with 'ä' and '€') upload and come back intact in the report."""
    sim = simulator()
    feeds = sim.feeds()
    feed = wait_for(feeds, submit(feeds, document(quantity("Täst-€", 1, 1))), "DONE")
    assert report_of(feeds, feed)["issues"][0]["sku"] == "Täst-€"


def test_feeds_of_a_seller_are_processed_one_after_another(simulator: Callable[..., Sim]) -> None:
    """A seller's second feed starts processing only after the first one has finished."""
    sim = simulator(in_queue_seconds=0.01, in_progress_seconds=0.2, listings=seeded("S"))
    feeds = sim.feeds()
    first = submit(feeds, document(quantity("S", 1, 1)))
    second = submit(feeds, document(quantity("S", 2, 1)))
    one, two = wait_for(feeds, first, "DONE"), wait_for(feeds, second, "DONE")
    assert two["processingStartTime"] >= one["processingEndTime"]
    assert listings(sim)["S"]["quantity"] == 2


def test_legacy_listings_feeds_end_fatal(simulator: Callable[..., Sim]) -> None:
    """A deprecated XML listings feed is accepted and ends FATAL without a report."""
    feeds = simulator().feeds()
    _, response = feeds.submit_feed(
        "POST_INVENTORY_AVAILABILITY_DATA", io.BytesIO(b"<AmazonEnvelope/>"),
        content_type="text/xml; charset=UTF-8", marketplaceIds=[DE],
    )  # fmt: skip
    feed = wait_for(feeds, response.payload["feedId"], "FATAL", "DONE")
    assert feed["processingStatus"] == "FATAL" and "resultFeedDocumentId" not in feed


def test_gzip_reports_are_flagged_and_not_content_encoded(simulator: Callable[..., Sim]) -> None:
    """With gzip_reports the document says GZIP, the bytes are gzip, no Content-Encoding is sent."""
    sim = simulator(gzip_reports=True, listings=seeded("S"))
    feeds = sim.feeds()
    feed = wait_for(feeds, submit(feeds, document(quantity("S", 4, 1))), "DONE")
    assert report_of(feeds, feed)["summary"]["messagesAccepted"] == 1
    headers = {"x-amz-access-token": sim.token()}
    meta = httpx.get(
        f"{sim.url}/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}", headers=headers
    ).json()
    assert meta["compressionAlgorithm"] == "GZIP"
    raw = httpx.get(meta["url"])
    assert "content-encoding" not in raw.headers
    assert raw.headers["content-type"] == JSON_TYPE
    assert json.loads(gzip.decompress(raw.content))["header"]["feedId"] == feed["feedId"]


# -- requests Amazon refuses ---------------------------------------------------------------------


def test_json_listings_feed_takes_one_marketplace(simulator: Callable[..., Sim]) -> None:
    """createFeed for JSON_LISTINGS_FEED with two marketplaces is a 400 with Amazon's message."""
    feeds = simulator().feeds()
    with pytest.raises(SellingApiBadRequestException) as caught:
        submit(feeds, document(quantity("S", 1, 1)), [DE, FR])
    assert (
        caught.value.message
        == "Too many 'marketplaceIds' values provided. Expected a maximum of 1."
    )


def test_create_feed_needs_an_uploaded_document(simulator: Callable[..., Sim]) -> None:
    """createFeed with an unknown or never-uploaded document id is a 400."""
    feeds = simulator().feeds()
    with pytest.raises(SellingApiBadRequestException):
        feeds.create_feed("JSON_LISTINGS_FEED", "amzn1.tortuga.unknown", marketplaceIds=[DE])
    empty = feeds.create_feed_document(None, JSON_TYPE).payload["feedDocumentId"]
    with pytest.raises(SellingApiBadRequestException):
        feeds.create_feed("JSON_LISTINGS_FEED", empty, marketplaceIds=[DE])


def test_upload_with_another_content_type_fails(simulator: Callable[..., Sim]) -> None:
    """The upload must carry the Content-Type given to createFeedDocument."""
    sim = simulator()
    url = sim.feeds().create_feed_document(None, JSON_TYPE).payload["url"]
    response = httpx.put(url, content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 403 and response.json()["errors"][0]["code"]


def test_wrong_credentials_raise_authorization_error(simulator: Callable[..., Sim]) -> None:
    """A wrong refresh token is invalid_grant, a wrong client secret invalid_client."""
    sim = simulator()
    with pytest.raises(AuthorizationError) as grant:
        sim.feeds(refresh_token=f"Atzr|wrong-{uuid.uuid4()}").get_feed("1")
    with pytest.raises(AuthorizationError) as client:
        sim.feeds(refresh_token=f"Atzr|x-{uuid.uuid4()}", lwa_client_secret="nope").get_feed("1")
    assert (grant.value.error_code, grant.value.status_code) == ("invalid_grant", 400)
    assert client.value.error_code == "invalid_client"


def test_calls_without_a_valid_access_token_are_denied(simulator: Callable[..., Sim]) -> None:
    """An SP-API call without or with a made-up x-amz-access-token is a 403 ErrorList."""
    sim = simulator()
    for headers in ({}, {"x-amz-access-token": "Atza|made-up"}):
        response = httpx.get(f"{sim.url}/feeds/2021-06-30/feeds/1", headers=headers)
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "Unauthorized"
        assert "x-amzn-RateLimit-Limit" not in response.headers


def test_sellers_only_see_their_own_feeds(simulator: Callable[..., Sim]) -> None:
    """Seller B gets 404 for seller A's feed and document and does not list A's feeds."""
    sim = simulator(listings=seeded("S"))
    feeds_a, feeds_b = sim.feeds(SELLER_A), sim.feeds(SELLER_B)
    feed = wait_for(feeds_a, submit(feeds_a, document(quantity("S", 1, 1))), "DONE")
    with pytest.raises(SellingApiNotFoundException):
        feeds_b.get_feed(feed["feedId"])
    with pytest.raises(SellingApiNotFoundException):
        feeds_b.get_feed_result_document(feed["resultFeedDocumentId"])
    with pytest.raises(SellingApiNotFoundException):
        feeds_b.cancel_feed(feed["feedId"])
    assert feeds_b.get_feeds(feedTypes=["JSON_LISTINGS_FEED"]).payload["feeds"] == []
    assert listings(sim, SELLER_B) == {}


# -- throttling ----------------------------------------------------------------------------------


def test_empty_bucket_answers_429(simulator: Callable[..., Sim]) -> None:
    """Once a (seller, operation) bucket is empty the call is throttled; other sellers are not."""
    sim = simulator(limits={"getFeed": {"rate": 0.001, "burst": 2}})
    feeds = sim.feeds()
    for _ in range(2):
        with pytest.raises(SellingApiNotFoundException):
            feeds.get_feed("404")
    with pytest.raises(SellingApiRequestThrottledException) as caught:
        feeds.get_feed("404")
    assert caught.value.amzn_code == "QuotaExceeded"
    assert caught.value.message == "You exceeded your quota for the requested resource."
    with pytest.raises(SellingApiNotFoundException):
        sim.feeds(SELLER_B).get_feed("404")
    stats = sim.get("/_simulator/stats")
    assert stats["throttled"] == {"getFeed": 1} and stats["throttled_total"] == 1
    assert stats["requests"]["getFeed"] == 4


def test_json_listings_feed_has_its_own_submission_limit(simulator: Callable[..., Sim]) -> None:
    """JSON_LISTINGS_FEED submissions beyond that feed type's bucket are throttled."""
    sim = simulator(limits={"JSON_LISTINGS_FEED": {"rate": 0.001, "burst": 1}})
    feeds = sim.feeds()
    submit(feeds, document(quantity("S", 1, 1)))
    with pytest.raises(SellingApiRequestThrottledException):
        submit(feeds, document(quantity("S", 2, 1)))
    assert len(sim.get("/_simulator/feeds")["feeds"]) == 1


def test_time_scale_speeds_up_refill(simulator: Callable[..., Sim]) -> None:
    """time_scale multiplies bucket rates: a 1-per-10s bucket at x100 refills in 0.1 s."""
    sim = simulator(time_scale=100, limits={"getFeed": {"rate": 0.1, "burst": 1}})
    feeds = sim.feeds()
    with pytest.raises(SellingApiNotFoundException) as first:
        feeds.get_feed("404")
    assert first.value.headers["x-amzn-RateLimit-Limit"] == "10.0"
    with pytest.raises(SellingApiRequestThrottledException):
        feeds.get_feed("404")
    time.sleep(0.15)
    with pytest.raises(SellingApiNotFoundException):
        feeds.get_feed("404")


def test_rate_limit_header_only_on_success_400_and_404(simulator: Callable[..., Sim]) -> None:
    """x-amzn-RateLimit-Limit carries the rate on 2xx/400/404 and is absent on 429."""
    sim = simulator(faults={"throttle": {"getFeed": 1}})
    feeds = sim.feeds()
    with pytest.raises(SellingApiRequestThrottledException) as throttled:
        feeds.get_feed("1")
    assert "x-amzn-RateLimit-Limit" not in throttled.value.headers
    assert throttled.value.headers["x-amzn-RequestId"]
    response = feeds.create_feed_document(None, JSON_TYPE)
    assert response.rate_limit == "0.5"


def test_throttle_fault_answers_429_for_n_calls(simulator: Callable[..., Sim]) -> None:
    """The throttle fault answers 429 for exactly N calls, whatever the bucket holds."""
    sim = simulator()
    assert sim.put("/_simulator/faults", {"throttle": {"getFeeds": 2}}).status_code == 200
    feeds = sim.feeds()
    for _ in range(2):
        with pytest.raises(SellingApiRequestThrottledException):
            feeds.get_feeds(feedTypes=["JSON_LISTINGS_FEED"])
    assert feeds.get_feeds(feedTypes=["JSON_LISTINGS_FEED"]).payload == {"feeds": []}
    assert sim.get("/_simulator/faults")["throttle"] == {}


def test_announced_rate_lowers_the_bucket(simulator: Callable[..., Sim]) -> None:
    """announce_rate lowers the bucket's rate and says so in x-amzn-RateLimit-Limit."""
    sim = simulator(faults={"announce_rate": {"getFeed": 0.5}})
    with pytest.raises(SellingApiNotFoundException) as caught:
        sim.feeds().get_feed("1")
    assert caught.value.headers["x-amzn-RateLimit-Limit"] == "0.5"


def test_server_error_fault(simulator: Callable[..., Sim]) -> None:
    """server_error answers 500 or 503 for N calls, then the call works."""
    sim = simulator(faults={"server_error": {"getFeed": {"count": 1, "status": 500},
                                             "getFeeds": {"count": 1, "status": 503}}})  # fmt: skip
    feeds = sim.feeds()
    with pytest.raises(SellingApiServerException):
        feeds.get_feed("1")
    with pytest.raises(SellingApiTemporarilyUnavailableException):
        feeds.get_feeds(feedTypes=["JSON_LISTINGS_FEED"])
    with pytest.raises(SellingApiNotFoundException):
        feeds.get_feed("1")


def test_delay_fault_slows_the_answer(simulator: Callable[..., Sim]) -> None:
    """delay makes the operation answer after the given number of seconds."""
    sim = simulator(faults={"delay": {"getFeed": 0.3}})
    feeds = sim.feeds()
    started = time.monotonic()
    with pytest.raises(SellingApiNotFoundException):
        feeds.get_feed("1")
    assert time.monotonic() - started >= 0.3


# -- lifecycle faults ----------------------------------------------------------------------------


def test_cancel_only_while_in_queue(simulator: Callable[..., Sim]) -> None:
    """cancelFeed works while IN_QUEUE (status CANCELLED) and is a 400 once IN_PROGRESS."""
    sim = simulator(faults={"hold": {"status": "IN_PROGRESS", "count": 1}}, listings=seeded("S"))
    feeds = sim.feeds()
    running = submit(feeds, document(quantity("S", 5, 1)))
    wait_for(feeds, running, "IN_PROGRESS")
    queued = submit(feeds, document(quantity("S", 9, 1)))  # waits behind the held feed
    assert feeds.cancel_feed(queued).payload == {"status_code": 200}
    assert feeds.get_feed(queued).payload["processingStatus"] == "CANCELLED"
    with pytest.raises(SellingApiBadRequestException) as caught:
        feeds.cancel_feed(running)
    assert "IN_QUEUE" in caught.value.message
    httpx.post(f"{sim.url}/_simulator/feeds/{running}/release").raise_for_status()
    wait_for(feeds, running, "DONE")
    assert listings(sim)["S"]["quantity"] == 5


def test_fatal_and_cancel_faults(simulator: Callable[..., Sim]) -> None:
    """fatal_feeds ends the next feed FATAL, cancel_feeds has Amazon cancel the one after."""
    sim = simulator(faults={"fatal_feeds": 1, "cancel_feeds": 1}, listings=seeded("S"))
    feeds = sim.feeds()
    fatal = wait_for(feeds, submit(feeds, document(quantity("S", 5, 1))), "FATAL", "DONE")
    cancelled = wait_for(feeds, submit(feeds, document(quantity("S", 6, 1))), "CANCELLED", "DONE")
    normal = wait_for(feeds, submit(feeds, document(quantity("S", 7, 1))), "DONE")
    assert (fatal["processingStatus"], cancelled["processingStatus"]) == ("FATAL", "CANCELLED")
    assert "resultFeedDocumentId" not in fatal and "processingStartTime" not in cancelled
    assert normal["resultFeedDocumentId"]
    assert listings(sim)["S"]["quantity"] == 7
    assert sim.get("/_simulator/stats")["feeds"] == {"FATAL": 1, "CANCELLED": 1, "DONE": 1}


def test_hold_in_queue_until_released(simulator: Callable[..., Sim]) -> None:
    """A held feed stays IN_QUEUE (and blocks the seller's queue) until released."""
    sim = simulator(listings=seeded("S"))
    sim.put("/_simulator/faults", {"hold": {"status": "IN_QUEUE", "count": 1}}).raise_for_status()
    feeds = sim.feeds()
    held = submit(feeds, document(quantity("S", 5, 1)))
    behind = submit(feeds, document(quantity("S", 6, 1)))
    time.sleep(0.3)
    assert feeds.get_feed(held).payload["processingStatus"] == "IN_QUEUE"
    assert feeds.get_feed(behind).payload["processingStatus"] == "IN_QUEUE"
    assert sim.get("/_simulator/feeds")["feeds"][0]["held"] == "IN_QUEUE"
    httpx.post(f"{sim.url}/_simulator/feeds/{held}/release").raise_for_status()
    wait_for(feeds, behind, "DONE")
    assert listings(sim)["S"]["quantity"] == 6


# -- getFeeds ------------------------------------------------------------------------------------


def test_get_feeds_filters_and_pages(simulator: Callable[..., Sim]) -> None:
    """getFeeds filters by status, pages with nextToken alone, and accepts CSV or repeated keys."""
    sim = simulator(listings=seeded("S"))
    feeds = sim.feeds()
    ids = [submit(feeds, document(quantity("S", n, 1))) for n in range(3)]
    for feed_id in ids:
        wait_for(feeds, feed_id, "DONE")
    first = feeds.get_feeds(feedTypes=["JSON_LISTINGS_FEED"], pageSize=2)
    assert [f["feedId"] for f in first.payload["feeds"]] == ids[:0:-1]
    rest = feeds.get_feeds(nextToken=first.next_token)
    assert [f["feedId"] for f in rest.payload["feeds"]] == ids[:1] and rest.next_token is None
    headers = {"x-amz-access-token": sim.token()}
    url = f"{sim.url}/feeds/2021-06-30/feeds"
    for query in (
        "feedTypes=JSON_LISTINGS_FEED&processingStatuses=DONE,FATAL",
        "feedTypes=JSON_LISTINGS_FEED&processingStatuses=DONE&processingStatuses=FATAL",
    ):
        assert len(httpx.get(f"{url}?{query}", headers=headers).json()["feeds"]) == 3
    none = httpx.get(
        f"{url}?feedTypes=JSON_LISTINGS_FEED&processingStatuses=IN_QUEUE", headers=headers
    )
    assert none.json() == {"feeds": []}
    mixed = httpx.get(f"{url}?nextToken={first.next_token}&pageSize=1", headers=headers)
    assert mixed.status_code == 400


# -- inspection, logging -------------------------------------------------------------------------


def test_inspection_shows_every_feed_with_its_skus(simulator: Callable[..., Sim]) -> None:
    """/_simulator/feeds lists each submission once with its seller, message count and SKUs."""
    sim = simulator(listings=seeded("S", "T"))
    feeds = sim.feeds()
    feed_id = submit(feeds, document(quantity("S", 1, 1), price("T", 3, 2)))
    (only,) = sim.get("/_simulator/feeds", seller_id=SELLER_A)["feeds"]
    assert (only["feedId"], only["sellerId"], only["marketplaceId"]) == (feed_id, SELLER_A, DE)
    assert (only["messageCount"], only["skus"]) == (2, ["S", "T"])
    assert sim.get("/_simulator/feeds", seller_id=SELLER_B)["feeds"] == []


def test_listings_can_be_set_as_in_seller_central(simulator: Callable[..., Sim]) -> None:
    """PUT /_simulator/listings creates or replaces a listing that feeds then update."""
    sim = simulator()
    created = sim.put(
        f"/_simulator/listings/{SELLER_A}/SKU%2F1",
        {"marketplace_id": DE, "quantity": 2, "price": 5},
    )
    assert created.status_code == 200 and created.json()["status"] == "ACTIVE"
    feeds = sim.feeds()
    wait_for(feeds, submit(feeds, document(quantity("SKU/1", 0, 1))), "DONE")
    assert listings(sim)["SKU/1"]["status"] == "INACTIVE"
    assert sim.put(f"/_simulator/listings/{SELLER_A}/X", {"quantity": 1}).status_code == 400
    assert sim.put("/_simulator/listings/NOBODY/X", {"marketplace_id": DE}).status_code == 404


def test_bad_faults_are_refused(simulator: Callable[..., Sim]) -> None:
    """PUT /_simulator/faults with an unknown key or operation is a 400 and changes nothing."""
    sim = simulator()
    for body in ({"throttel": {}}, {"throttle": {"getFeedz": 1}}, {"hold": {"status": "DONE"}}):
        assert sim.put("/_simulator/faults", body).status_code == 400
    assert sim.get("/_simulator/faults")["throttle"] == {}


def test_state_changes_are_logged_without_secrets(simulator: Callable[..., Sim]) -> None:
    """Each feed state change is a log event; no log event carries a token or secret."""
    sim = simulator(listings=seeded("S"))
    feeds = sim.feeds()
    with structlog.testing.capture_logs() as logs:
        wait_for(feeds, submit(feeds, document(quantity("S", 1, 1))), "DONE")
        token = sim.token()
    changes = [e["status"] for e in logs if e["event"] == "feed_status_changed"]
    assert changes == ["IN_PROGRESS", "DONE"]
    text = json.dumps(logs, default=str)
    for secret in (token, *sim.secrets[SELLER_A].values()):
        assert secret not in text


# -- every response against Amazon's model -------------------------------------------------------


class ModelChecker:
    """Validates response bodies against the Feeds model's response schema for the status."""

    def __init__(self) -> None:
        self.model = amazon_file("models/feeds_2021-06-30.json")
        self.checked: set[tuple[str, int]] = set()

    def check(self, operation: str, response: httpx.Response) -> Any:
        spec = next(
            op
            for methods in self.model["paths"].values()
            for op in methods.values()
            if isinstance(op, dict) and op.get("operationId") == operation
        )
        declared = spec["responses"][str(response.status_code)]
        self.checked.add((operation, response.status_code))
        if "schema" not in declared:
            return None
        schema = {**declared["schema"], "definitions": self.model["definitions"]}
        body = response.json()
        jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)
        return body


def test_every_response_matches_amazons_model(simulator: Callable[..., Sim]) -> None:
    """Every status each operation can answer has a body valid against feeds_2021-06-30.json."""
    model = ModelChecker()
    sim = simulator(
        listings=seeded("S"),
        faults={"hold": {"status": "IN_QUEUE", "count": 1}},
        limits={"getFeedDocument": {"rate": 0.001, "burst": 2}},
    )
    headers = {"x-amz-access-token": sim.token()}
    base = f"{sim.url}/feeds/2021-06-30"

    def call(operation: str, method: str, path: str, **kw: Any) -> Any:
        return model.check(operation, httpx.request(method, f"{base}{path}", headers=headers, **kw))

    created = call(
        "createFeedDocument", "POST", "/documents", json={"contentType": JSON_TYPE, "path": "x"}
    )
    httpx.put(
        created["url"],
        content=document(quantity("S", 3, 1)).getvalue(),
        headers={"Content-Type": JSON_TYPE},
    )
    spec = {"feedType": "JSON_LISTINGS_FEED", "inputFeedDocumentId": created["feedDocumentId"]}
    held = call("createFeed", "POST", "/feeds", json={**spec, "marketplaceIds": [DE]})["feedId"]
    call("createFeed", "POST", "/feeds", json={**spec, "marketplaceIds": [DE, FR]})
    call("createFeed", "POST", "/feeds", json={"feedType": "JSON_LISTINGS_FEED"})
    assert call("getFeed", "GET", f"/feeds/{held}")["processingStatus"] == "IN_QUEUE"
    call("getFeed", "GET", "/feeds/999")
    second = call("createFeed", "POST", "/feeds", json={**spec, "marketplaceIds": [DE]})["feedId"]
    call("cancelFeed", "DELETE", f"/feeds/{held}")
    call("cancelFeed", "DELETE", f"/feeds/{held}")
    call("cancelFeed", "DELETE", "/feeds/999")
    done = wait_for(sim.feeds(), second, "DONE")
    page = call(
        "getFeeds", "GET", "/feeds", params={"feedTypes": "JSON_LISTINGS_FEED", "pageSize": 1}
    )
    call("getFeeds", "GET", "/feeds", params={"nextToken": page["nextToken"]})
    call("getFeeds", "GET", "/feeds", params={"pageSize": 1})
    call("getFeedDocument", "GET", f"/documents/{done['resultFeedDocumentId']}")
    call("getFeedDocument", "GET", "/documents/amzn1.tortuga.nope")
    call("getFeedDocument", "GET", f"/documents/{done['resultFeedDocumentId']}")
    sim.put("/_simulator/faults", {"server_error": {"getFeed": {"count": 2, "status": 503}},
                                   "throttle": {"getFeeds": 1}})  # fmt: skip
    call("getFeed", "GET", f"/feeds/{second}")
    call("getFeeds", "GET", "/feeds", params={"feedTypes": "JSON_LISTINGS_FEED"})
    model.check("getFeed", httpx.get(f"{base}/feeds/1"))
    assert model.checked >= {
        ("createFeedDocument", 201), ("createFeed", 202), ("createFeed", 400),
        ("getFeed", 200), ("getFeed", 404), ("getFeed", 503), ("getFeed", 403),
        ("cancelFeed", 200), ("cancelFeed", 400), ("cancelFeed", 404),
        ("getFeeds", 200), ("getFeeds", 400), ("getFeeds", 429),
        ("getFeedDocument", 200), ("getFeedDocument", 404), ("getFeedDocument", 429),
    }  # fmt: skip
