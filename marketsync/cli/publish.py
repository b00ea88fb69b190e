"""``marketsync publish product-changed ...``: publish one storefront change, as a hook would."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from marketsync.cli.common import settings_for
from marketsync.schemas.storefront import new_event_id, parse_message
from marketsync.schemas.validation import InvalidMessage


def register(commands: Any) -> None:
    publish = commands.add_parser("publish", help="publish a storefront event (with confirms)")
    kinds = publish.add_subparsers(dest="kind", required=True, parser_class=type(publish))
    changed = kinds.add_parser("product-changed", help="a SKU's stock and/or price changed")
    changed.add_argument("--account", required=True)
    changed.add_argument("--marketplace", required=True, help="e.g. ATVPDKIKX0DER")
    changed.add_argument("--sku", required=True)
    changed.add_argument("--quantity", type=int)
    changed.add_argument("--price", help="decimal, e.g. 19.99")
    changed.add_argument("--currency", help="ISO code, e.g. USD (with --price)")
    changed.add_argument(
        "--version", type=int, help="the storefront's version (default: now in microseconds)"
    )
    changed.set_defaults(handler=publish_product_changed)


def body_for(args: argparse.Namespace) -> bytes:
    data: dict[str, Any] = {"sku": args.sku, "version": args.version or time.time_ns() // 1000}
    if args.quantity is not None:
        data["quantity"] = args.quantity
    if args.price is not None or args.currency is not None:
        data["price"] = {"amount": args.price, "currency": args.currency}
    envelope = {
        "id": new_event_id(),
        "type": "product.changed",
        "schema_version": 1,
        "account": args.account,
        "marketplace_id": args.marketplace,
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(envelope).encode("utf-8")


def publish_product_changed(args: argparse.Namespace) -> int:
    from marketsync.producers.publisher import PublishError, StorefrontPublisher

    settings = settings_for(args)
    try:
        event = parse_message(body_for(args))
    except InvalidMessage as e:
        print(f"marketsync publish: {e.reason}", file=sys.stderr)
        return 2
    try:
        with StorefrontPublisher(settings.amqp_url) as publisher:
            publisher.publish(event)
    except PublishError as e:
        print(f"marketsync publish: {e}", file=sys.stderr)
        return 3
    print(f"published {event.id} (product.changed.{event.account})")
    return 0
