"""``marketsync bench``: measure the pipeline against the limits of its parts (see
:mod:`marketsync.bench`), print the table and optionally write the figures as JSON."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from marketsync import logs
from marketsync.bench import GROUPS
from marketsync.settings import load_settings

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 3


def register(commands: Any) -> None:
    bench = commands.add_parser(
        "bench", help="measure the pipeline against the limits of its parts (table, JSON)"
    )
    bench.add_argument(
        "--quick", action="store_true", help="small sizes (CI): every figure in a few minutes"
    )
    bench.add_argument("--json", metavar="PATH", type=Path, help="also write the figures here")
    bench.add_argument(
        "--only", nargs="+", choices=GROUPS, metavar="NAME", help=f"some of: {', '.join(GROUPS)}"
    )
    bench.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL server to make the run's databases on (default: MARKETSYNC_DATABASE_URL "
        f"when it is PostgreSQL, else {DEFAULT_POSTGRES})",
    )
    bench.set_defaults(handler=run_bench)


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def run_bench(args: argparse.Namespace) -> int:
    from marketsync.bench import report, runner
    from marketsync.bench.services import BenchUnavailable

    settings = load_settings(args.config)
    logs.configure(settings.secret_values(), json=args.log_json, level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulator's request lines
    postgres = args.postgres or (
        settings.database_url
        if settings.database_url.startswith("postgresql")
        else DEFAULT_POSTGRES
    )
    sizes = runner.QUICK if args.quick else runner.FULL
    try:
        result = runner.run_bench(settings.amqp_url, postgres, sizes, args.only or GROUPS, _say)
    except BenchUnavailable as e:
        print(f"marketsync bench: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    figures: list[report.Figure] = result["figures"]
    print(
        f"marketsync bench ({result['mode']}, {result['seconds']:.0f} s) on "
        f"{report.machine_line(result['machine'])}\n"
    )
    print(report.table(figures))
    if args.json:
        document = {
            **result,
            "figures": [f.to_json() for f in figures],
            "markdown": report.markdown(figures),
        }
        report.write_json(args.json, document)
        print(f"\nfigures written to {args.json}")
    return EXIT_FAILED if any(f.error for f in figures) else 0
