"""The simulator's HTTP face: Login with Amazon, the Feeds API 2021-06-30, presigned document
URLs, and the ``/_simulator/...`` inspection and control endpoints (tests and demos only).

Nothing here routes on the ``Host`` header: ``python-amazon-sp-api`` sends a mangled one when
the endpoint is ``http://``. Document URLs are built from the server's public URL
(``app.config[PUBLIC_URL]``, set by :class:`~.server.SimulatorServer`), falling back to the
address the server is bound to.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeGuard

import structlog
from flask import Flask, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from marketsync.settings import ConfigError

from .config import parse_faults
from .state import FeedQuery, LwaError, SimulatorError, SimulatorState

log = structlog.get_logger(__name__)

PUBLIC_URL = "SIMULATOR_PUBLIC_URL"
FEEDS = "/feeds/2021-06-30"
STATUSES = frozenset({"CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE"})
GET_FEEDS_PARAMS = frozenset(
    {
        "feedTypes",
        "marketplaceIds",
        "pageSize",
        "processingStatuses",
        "createdSince",
        "createdUntil",
    }
)
THROTTLED = ("QuotaExceeded", "You exceeded your quota for the requested resource.")
SERVER_ERRORS = {
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}

View = Callable[..., ResponseReturnValue]


def create_app(state: SimulatorState) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.after_request(_common_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SimulatorError, _simulator_error)
    app.register_error_handler(Exception, _unexpected_error)
    _lwa_routes(app, state)
    _feed_routes(app, state)
    _document_routes(app, state)
    _control_routes(app, state)
    return app


# -- responses ------------------------------------------------------------------------------


def error(status: int, code: str, message: str, details: str = "") -> Response:
    """Amazon's ``ErrorList`` body."""
    response = jsonify({"errors": [{"code": code, "message": message, "details": details}]})
    response.status_code = status
    return response


def rate_header(rate: float) -> str:
    """A rate as Amazon writes it in ``x-amzn-RateLimit-Limit`` (``2.0``, ``0.0083``)."""
    text = f"{rate:.4f}" if rate >= 0.001 else f"{rate:.8f}"
    text = text.rstrip("0")
    return text + "0" if text.endswith(".") else text


def _common_headers(response: Response) -> Response:
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    rate = g.get("rate")
    if rate is not None and (
        200 <= response.status_code < 300 or response.status_code in (400, 404)
    ):
        response.headers["x-amzn-RateLimit-Limit"] = rate_header(rate)
    if response.status_code == 429:
        response.headers["x-amzn-ErrorType"] = "TooManyRequestsException"
    return response


def _http_error(e: HTTPException) -> Response:
    status = e.code or 500
    code = {404: "NotFound"}.get(status, "InvalidInput" if status < 500 else "InternalFailure")
    return error(status, code, e.description or "")


def _unexpected_error(e: Exception) -> Response:
    log.exception("simulator_error", path=request.path)
    return error(500, *SERVER_ERRORS[500])


def _simulator_error(e: SimulatorError) -> Response:
    return error(e.status, e.code, e.message, e.details)


def _json_object() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise SimulatorError(400, "InvalidInput", "The request body must be a JSON object.")
    return body


def _base_url() -> str:
    configured = current_app.config.get(PUBLIC_URL)
    if configured:
        return str(configured)
    return f"http://{request.environ['SERVER_NAME']}:{request.environ['SERVER_PORT']}"


def _document_url(state: SimulatorState, document_id: str, extra: str = "") -> str:
    return f"{_base_url()}/_documents/{document_id}?{state.url_query(document_id)}{extra}"


# -- Login with Amazon ----------------------------------------------------------------------


def _lwa_routes(app: Flask, state: SimulatorState) -> None:
    @app.post("/auth/o2/token")
    def token() -> ResponseReturnValue:
        form: Mapping[str, Any] = request.form if request.form else (_loose_json() or {})
        try:
            body = state.issue_token({k: str(v) for k, v in form.items()})
        except LwaError as e:
            return {"error": e.error, "error_description": e.description}, 400
        return body, 200, {"Cache-Control": "no-store"}


def _loose_json() -> dict[str, Any] | None:
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else None


# -- the Feeds API --------------------------------------------------------------------------


def operation(state: SimulatorState, name: str) -> Callable[[View], View]:
    """Authenticate the caller, apply faults and the (seller, operation) token bucket."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(**kwargs: Any) -> ResponseReturnValue:
            token = request.headers.get("x-amz-access-token", "")
            seller = state.seller_for(token) if token else None
            if seller is None:
                details = "The access token you provided is revoked, malformed or invalid."
                if not token:
                    details = "Access token is missing in the request header."
                return error(
                    403, "Unauthorized", "Access to requested resource is denied.", details
                )
            delay = state.fault_delay(name)
            if delay:
                time.sleep(delay)
            admission = state.admit(seller, name)
            g.rate = admission.rate
            if admission.status == 429:
                return error(429, *THROTTLED)
            if admission.status != 200:
                return error(admission.status, *SERVER_ERRORS[admission.status])
            return view(seller, **kwargs)

        return guarded

    return decorate


def _feed_routes(app: Flask, state: SimulatorState) -> None:
    @app.post(f"{FEEDS}/feeds")
    @operation(state, "createFeed")
    def create_feed(seller: str) -> ResponseReturnValue:
        body = _json_object()
        feed_type, marketplaces, document_id = (
            body.get("feedType"),
            body.get("marketplaceIds"),
            body.get("inputFeedDocumentId"),
        )
        if not isinstance(feed_type, str) or not isinstance(document_id, str):
            raise SimulatorError(
                400, "InvalidInput", "feedType and inputFeedDocumentId are required."
            )
        if not _strings(marketplaces) or not 1 <= len(marketplaces) <= 25:
            raise SimulatorError(
                400, "InvalidInput", "marketplaceIds must list 1 to 25 marketplace ids."
            )
        options = body.get("feedOptions", {})
        if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
            raise SimulatorError(400, "InvalidInput", "feedOptions must map strings to strings.")
        feed_id = state.create_feed(seller, feed_type, list(marketplaces), document_id)
        return {"feedId": feed_id}, 202

    @app.get(f"{FEEDS}/feeds/<feed_id>")
    @operation(state, "getFeed")
    def get_feed(seller: str, feed_id: str) -> ResponseReturnValue:
        return state.feed_json(seller, feed_id)

    @app.delete(f"{FEEDS}/feeds/<feed_id>")
    @operation(state, "cancelFeed")
    def cancel_feed(seller: str, feed_id: str) -> ResponseReturnValue:
        state.cancel_feed(seller, feed_id)
        return Response(status=200)

    @app.get(f"{FEEDS}/feeds")
    @operation(state, "getFeeds")
    def get_feeds(seller: str) -> ResponseReturnValue:
        params, offset = _feeds_request()
        size = int(params.get("pageSize", ["10"])[0])
        feeds = state.query_feeds(seller, _feed_query(params))
        body: dict[str, Any] = {"feeds": feeds[offset : offset + size]}
        if offset + size < len(feeds):
            body["nextToken"] = _encode_token(params, offset + size)
        return body

    @app.post(f"{FEEDS}/documents")
    @operation(state, "createFeedDocument")
    def create_feed_document(seller: str) -> ResponseReturnValue:
        content_type = _json_object().get("contentType")
        if not isinstance(content_type, str) or not content_type.strip():
            raise SimulatorError(400, "InvalidInput", "contentType is required.")
        document = state.create_document(seller, content_type)
        url = _document_url(state, document.document_id)
        return {"feedDocumentId": document.document_id, "url": url}, 201

    @app.get(f"{FEEDS}/documents/<document_id>")
    @operation(state, "getFeedDocument")
    def get_feed_document(seller: str, document_id: str) -> ResponseReturnValue:
        document = state.document_of(seller, document_id)
        header = request.args.get("enableContentEncodingUrlHeader", "").lower() == "true"
        extra = "&contentEncoding=gzip" if header and document.compressed else ""
        body = {"feedDocumentId": document_id, "url": _document_url(state, document_id, extra)}
        if document.compressed:
            body["compressionAlgorithm"] = "GZIP"
        return body


def _strings(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _feeds_request() -> tuple[dict[str, list[str]], int]:
    """getFeeds parameters (CSV or repeated keys) and the offset, from the query or nextToken."""
    args = request.args
    if "nextToken" in args:
        if GET_FEEDS_PARAMS & set(args):
            raise SimulatorError(
                400, "InvalidInput", "nextToken must be the only parameter when it is given."
            )
        return _decode_token(args["nextToken"])
    params = {
        name: [v.strip() for raw in args.getlist(name) for v in raw.split(",") if v.strip()]
        for name in GET_FEEDS_PARAMS
        if name in args
    }
    if not params.get("feedTypes"):
        raise SimulatorError(400, "InvalidInput", "Either feedTypes or nextToken is required.")
    _check_feeds_params(params)
    return params, 0


def _check_feeds_params(params: dict[str, list[str]]) -> None:
    for name in ("feedTypes", "marketplaceIds"):
        if len(params.get(name, [])) > 10:
            raise SimulatorError(400, "InvalidInput", f"{name} accepts at most 10 values.")
    size = params.get("pageSize", ["10"])
    if len(size) != 1 or not size[0].isdigit() or not 1 <= int(size[0]) <= 100:
        raise SimulatorError(400, "InvalidInput", "pageSize must be an integer from 1 to 100.")
    unknown = set(params.get("processingStatuses", [])) - STATUSES
    if unknown:
        raise SimulatorError(400, "InvalidInput", f"Invalid processingStatuses: {sorted(unknown)}.")
    for name in ("createdSince", "createdUntil"):
        if name in params:
            _instant(params[name], name)


def _feed_query(params: dict[str, list[str]]) -> FeedQuery:
    def values(name: str) -> frozenset[str] | None:
        return frozenset(params[name]) if name in params else None

    return FeedQuery(
        feed_types=values("feedTypes"),
        statuses=values("processingStatuses"),
        marketplaces=values("marketplaceIds"),
        since=_instant(params["createdSince"], "createdSince")
        if "createdSince" in params
        else None,
        until=_instant(params["createdUntil"], "createdUntil")
        if "createdUntil" in params
        else None,
    )


def _instant(values: list[str], name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(",".join(values))
    except ValueError:
        raise SimulatorError(
            400, "InvalidInput", f"{name} must be an ISO 8601 date-time."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _encode_token(params: dict[str, list[str]], offset: int) -> str:
    raw = json.dumps({"p": params, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[dict[str, list[str]], int]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        params, offset = decoded["p"], decoded["o"]
        if not isinstance(params, dict) or not isinstance(offset, int):
            raise ValueError(token)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise SimulatorError(400, "InvalidInput", "Invalid nextToken.") from None
    return params, offset


# -- presigned document URLs ----------------------------------------------------------------


def _document_routes(app: Flask, state: SimulatorState) -> None:
    @app.put("/_documents/<document_id>")
    def upload(document_id: str) -> ResponseReturnValue:
        state.upload(
            document_id,
            request.args.get("expires", ""),
            request.args.get("signature", ""),
            request.content_type or "",
            request.get_data(),
        )
        return Response(status=200)

    @app.get("/_documents/<document_id>")
    def download(document_id: str) -> ResponseReturnValue:
        document = state.download(
            document_id, request.args.get("expires", ""), request.args.get("signature", "")
        )
        response = Response(document.content, status=200, content_type=document.content_type)
        if request.args.get("contentEncoding") == "gzip" and document.compressed:
            response.headers["Content-Encoding"] = "gzip"
        return response


# -- inspection and control (no authentication: tests and demos only) -----------------------


def _control_routes(app: Flask, state: SimulatorState) -> None:
    @app.get("/_simulator/listings/<seller_id>")
    def listings(seller_id: str) -> ResponseReturnValue:
        return {"listings": state.listings(seller_id)}

    @app.put("/_simulator/listings/<seller_id>/<path:sku>")
    def put_listing(seller_id: str, sku: str) -> ResponseReturnValue:
        return state.put_listing(seller_id, sku, _json_object())

    @app.get("/_simulator/stats")
    def stats() -> ResponseReturnValue:
        return state.stats()

    @app.get("/_simulator/feeds")
    def feeds() -> ResponseReturnValue:
        return {"feeds": state.inspect_feeds(request.args.get("seller_id"))}

    @app.post("/_simulator/feeds/<feed_id>/release")
    def release(feed_id: str) -> ResponseReturnValue:
        return state.release(feed_id)

    @app.get("/_simulator/faults")
    def get_faults() -> ResponseReturnValue:
        return state.faults.to_json()

    @app.put("/_simulator/faults")
    def put_faults() -> ResponseReturnValue:
        try:
            faults = parse_faults(_json_object())
        except ConfigError as e:
            raise SimulatorError(400, "InvalidInput", str(e)) from None
        state.set_faults(faults)
        return faults.to_json()
