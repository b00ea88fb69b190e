"""The one module that imports ``sp_api`` (python-amazon-sp-api).

It builds a Feeds client per account and marketplace, points it at a configured endpoint
(the simulator, or Amazon when none is configured), and turns the library's responses and
exceptions into :mod:`marketsync.amazon.feeds` types. No ``ApiResponse`` leaves this module.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from functools import cache, partial
from typing import Any
from urllib.parse import urlsplit

import httpx
from sp_api.api import Feeds
from sp_api.auth import AccessTokenClient
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
)

from marketsync.amazon.feeds import (
    AuthFailed,
    FeedInfo,
    Rejected,
    Throttled,
    Transient,
)
from marketsync.settings import AccountSettings, AmazonSettings


def marketplace_for(marketplace_id: str) -> Marketplaces:
    for member in Marketplaces:
        if member.marketplace_id == marketplace_id:
            return member
    raise ValueError(f"unknown marketplace id {marketplace_id}")


@cache
def token_client_class(token_endpoint: str) -> type[AccessTokenClient]:
    """An LWA client that posts to ``token_endpoint`` instead of api.amazon.com."""
    parts = urlsplit(token_endpoint)
    return type(
        "ConfiguredAccessTokenClient",
        (AccessTokenClient,),
        {"scheme": f"{parts.scheme}://", "host": parts.netloc, "path": parts.path},
    )


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Turn the library's exceptions into ours, keeping Amazon's code and message."""
    try:
        yield
    except SellingApiRequestThrottledException as e:
        raise Throttled(operation, "429 QuotaExceeded") from e
    except (SellingApiServerException, SellingApiTemporarilyUnavailableException) as e:
        raise Transient(operation, f"{e.code} {e.amzn_code}: {e.message}") from e
    except AuthorizationError as e:
        raise AuthFailed(operation, f"Login with Amazon refused: {e.error_code}") from e
    except SellingApiException as e:
        code = getattr(e, "code", 0)
        if code == 999 or (isinstance(code, int) and code >= 500):
            raise Transient(operation, f"{e.amzn_code}: {e.message}") from e
        raise Rejected(operation, f"{e.amzn_code}: {e.message}") from e
    except httpx.TransportError as e:
        raise Transient(operation, f"{type(e).__name__}: {e}") from e


def _feed_info(payload: dict[str, Any]) -> FeedInfo:
    return FeedInfo(
        feed_id=str(payload["feedId"]),
        feed_type=str(payload.get("feedType", "")),
        status=str(payload["processingStatus"]),
        created_time=str(payload.get("createdTime", "")),
        marketplace_ids=tuple(payload.get("marketplaceIds") or ()),
        result_document_id=payload.get("resultFeedDocumentId"),
    )


class SpApiFeeds:
    """:class:`~marketsync.amazon.feeds.FeedsGateway` over the real client."""

    def __init__(self, account: AccountSettings, marketplace: str, amazon: AmazonSettings):
        self.marketplace = marketplace
        self._announced: dict[str, float] = {}
        extra: dict[str, Any] = {}
        if amazon.token_endpoint:
            extra["auth_token_client_class"] = token_client_class(amazon.token_endpoint)
        self._client = Feeds(
            marketplace=marketplace_for(marketplace),
            credentials={
                "refresh_token": account.refresh_token.reveal(),
                "lwa_app_id": account.lwa_client_id.reveal(),
                "lwa_client_secret": account.lwa_client_secret.reveal(),
            },
            timeout=amazon.timeout,
            **extra,
        )
        if amazon.endpoint:
            self._client.endpoint = amazon.endpoint.rstrip("/")

    def _call(self, operation: str, call: Callable[[], Any]) -> Any:
        with translated(operation):
            response = call()
        announced = getattr(response, "rate_limit", None)
        if announced:
            with suppress(ValueError):  # best effort, as Amazon says of this header
                self._announced[operation] = float(announced)
        return response

    def announced_rates(self) -> dict[str, float]:
        announced, self._announced = self._announced, {}
        return announced

    def create_feed_document(self, content: bytes, content_type: str) -> str:
        response = self._call(
            "createFeedDocument",
            lambda: self._client.create_feed_document(io.BytesIO(content), content_type),
        )
        return str(response.payload["feedDocumentId"])

    def create_feed(self, feed_type: str, document_id: str) -> str:
        response = self._call(
            "createFeed",
            lambda: self._client.create_feed(
                feed_type, document_id, marketplaceIds=[self.marketplace]
            ),
        )
        return str(response.payload["feedId"])

    def get_feed(self, feed_id: str) -> FeedInfo:
        response = self._call("getFeed", lambda: self._client.get_feed(feed_id))
        return _feed_info(response.payload)

    def get_feeds(self, feed_type: str, created_since: datetime) -> list[FeedInfo]:
        feeds: list[FeedInfo] = []
        response = self._call(
            "getFeeds",
            lambda: self._client.get_feeds(
                feedTypes=[feed_type],
                marketplaceIds=[self.marketplace],
                createdSince=created_since.isoformat().replace("+00:00", "Z"),
                pageSize=100,
            ),
        )
        while True:
            feeds.extend(_feed_info(f) for f in response.payload.get("feeds", []))
            token = response.next_token
            if not token:
                return feeds
            response = self._call("getFeeds", partial(self._client.get_feeds, nextToken=token))

    def cancel_feed(self, feed_id: str) -> None:
        self._call("cancelFeed", lambda: self._client.cancel_feed(feed_id))

    def get_feed_result(self, document_id: str) -> str:
        result = self._call(
            "getFeedDocument", lambda: self._client.get_feed_result_document(document_id)
        )
        return result if isinstance(result, str) else str(result)
