"""``marketsync dead-letters list|redrive``: the messages the pipeline refused, and why."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from marketsync.cli.common import emit_json, settings_for, table


def register(commands: Any) -> None:
    dead = commands.add_parser("dead-letters", help="refused storefront messages")
    actions = dead.add_subparsers(dest="action", required=True, parser_class=type(dead))
    listing = actions.add_parser("list", help="each dead letter with its reason")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--limit", type=int, default=1000)
    listing.set_defaults(handler=list_letters)
    redrive = actions.add_parser("redrive", help="publish dead letters again (after a fix)")
    which = redrive.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", metavar="ID")
    which.add_argument("--all", action="store_true")
    redrive.set_defaults(handler=redrive_letters)


def list_letters(args: argparse.Namespace) -> int:
    from marketsync.workers.broker import connect, list_dead_letters

    settings = settings_for(args)
    with connect(settings.amqp_url) as connection:
        letters = list_dead_letters(connection, limit=args.limit)
    if args.json:
        emit_json(
            [
                {
                    "id": d.id,
                    "routing_key": d.routing_key,
                    "reason": d.reason,
                    "body": d.body.decode("utf-8", "replace"),
                }
                for d in letters
            ]
        )
        return 0
    rows = [
        [d.id, d.routing_key, d.reason, d.body[:60].decode("utf-8", "replace")] for d in letters
    ]
    print(table(("ID", "routing key", "reason", "body"), rows))
    print(f"{len(letters)} dead letter(s)")
    return 0


def redrive_letters(args: argparse.Namespace) -> int:
    from marketsync.workers.broker import connect, redrive

    settings = settings_for(args)
    with connect(settings.amqp_url) as connection:
        moved = redrive(connection, None if args.all else set(args.ids))
    missing = set(args.ids or ()) - {d.id for d in moved}
    print(f"redriven {len(moved)} message(s)")
    if missing:
        print(f"marketsync: no dead letter with id {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    return 0
