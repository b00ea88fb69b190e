"""``marketsync``: the command line. Each sub-command is one function in a module of this package.

Bad arguments and bad configuration get one line on stderr and a non-zero exit, never a
traceback: 2 for usage and configuration, 3 when a service (database, broker) is unreachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from marketsync.eventlog.errors import DatabaseUnavailable
from marketsync.settings import ConfigError

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> Parser:
    from marketsync.cli import audit, bench, dead_letters, demo, operator, publish, views, workers

    parser = Parser(
        prog="marketsync",
        description="Keeps an online store and its Amazon seller accounts in step.",
    )
    parser.add_argument("--config", help="TOML config file (default: $MARKETSYNC_CONFIG)")
    parser.add_argument("--log-json", action="store_true", help="log JSON lines to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in (demo, publish, workers, views, operator, dead_letters, audit, bench):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as e:
        print(f"marketsync: configuration: {e}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseUnavailable as e:
        print(f"marketsync: database unavailable: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130
