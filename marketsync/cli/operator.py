"""Operator commands: ``jobs cancel|abandon``, ``products stop|remove|relist``, ``sync``,
and the ``listings`` view."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from marketsync.bootstrap import open_store
from marketsync.cli.common import emit_json, settings_for, table, when
from marketsync.domain.sku import ACTIVE, REMOVED, STOPPED

if TYPE_CHECKING:
    from marketsync import operations

# Each command imports the database side it runs (marketsync.operations, the views) when it
# runs: every command's parser is built in every process, ``marketsync worker batcher``'s
# included, which never opens the database itself (see marketsync.bootstrap).

STATUS_OF = {"stop": STOPPED, "remove": REMOVED, "relist": ACTIVE}


def register_job_actions(actions: Any) -> None:
    cancel = actions.add_parser("cancel", help="cancel a reserved or created job")
    cancel.add_argument("job_id", type=int, metavar="ID")
    cancel.set_defaults(handler=cancel_job)
    abandon = actions.add_parser("abandon", help="release a stuck job's items to a new job")
    abandon.add_argument("job_id", type=int, metavar="ID")
    abandon.add_argument("--reason", default="")
    abandon.set_defaults(handler=abandon_job)


def register(commands: Any) -> None:
    products = commands.add_parser("products", help="stop, remove or relist a SKU")
    products.add_argument("action", choices=sorted(STATUS_OF))
    products.add_argument("--account", required=True)
    products.add_argument("--sku", required=True)
    products.add_argument("--marketplace", help="default: every marketplace of the account")
    products.set_defaults(handler=set_status)
    sync = commands.add_parser("sync", help="send current values again (e.g. after a restore)")
    sync.add_argument("--account", required=True)
    sync.add_argument("--sku")
    sync.set_defaults(handler=resend)
    listings = commands.add_parser("listings", help="SKUs linked to Amazon and their state")
    listings.add_argument("--account")
    listings.add_argument("--json", action="store_true")
    listings.set_defaults(handler=show_listings)


def _refused(error: operations.Refused) -> int:
    print(f"marketsync: {error}", file=sys.stderr)
    return 1


def cancel_job(args: argparse.Namespace) -> int:
    from marketsync import operations

    try:
        operations.cancel_job(open_store(settings_for(args)), args.job_id)
    except operations.Refused as e:
        return _refused(e)
    print(f"job {args.job_id} canceled; its items are pending again")
    return 0


def abandon_job(args: argparse.Namespace) -> int:
    from marketsync import operations

    try:
        operations.abandon_job(open_store(settings_for(args)), args.job_id, args.reason)
    except operations.Refused as e:
        return _refused(e)
    print(
        f"job {args.job_id} abandoned; its items go into the next job, and are sent again "
        "when its feed finishes"
    )
    return 0


def set_status(args: argparse.Namespace) -> int:
    from marketsync import operations

    settings = settings_for(args)
    try:
        n = operations.set_selling_status(
            open_store(settings),
            settings,
            args.account,
            args.sku,
            STATUS_OF[args.action],
            args.marketplace,
        )
    except operations.Refused as e:
        return _refused(e)
    print(f"{args.action}: {args.sku} in {n} marketplace(s) of {args.account}")
    return 0


def resend(args: argparse.Namespace) -> int:
    from marketsync import operations

    settings = settings_for(args)
    try:
        n = operations.request_resend(open_store(settings), settings, args.account, args.sku)
    except operations.Refused as e:
        return _refused(e)
    print(f"{n} SKU(s) of {args.account} queued to be sent again")
    return 0


LISTING_COLUMNS = (
    "account",
    "marketplace",
    "SKU",
    "ASIN",
    "linked since",
    "quantity",
    "price",
    "state",
    "pending",
)


def show_listings(args: argparse.Namespace) -> int:
    from marketsync.projections import views

    store = open_store(settings_for(args))
    with store.read() as connection:
        found = views.listings(connection, args.account)
    if args.json:
        emit_json(
            [
                {
                    "account": s.account,
                    "marketplace": s.marketplace,
                    "sku": s.sku,
                    "asin": s.asin,
                    "linked_since": s.linked_since,
                    "quantity": s.acked_quantity,
                    "price": s.acked_price,
                    "currency": s.acked_currency,
                    "state": s.selling_state,
                    "pending": s.state,
                }
                for s in found
            ]
        )
        return 0
    rows = [
        [
            s.account,
            s.marketplace,
            s.sku,
            s.asin,
            when(s.linked_since),
            s.acked_quantity,
            f"{s.acked_price} {s.acked_currency}" if s.acked_price else None,
            s.selling_state,
            s.state,
        ]
        for s in found
    ]
    print(table(LISTING_COLUMNS, rows))
    return 0
