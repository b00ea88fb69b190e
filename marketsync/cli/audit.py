"""``marketsync replay --verify``: rebuild everything from position 0 and compare."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from marketsync.bootstrap import open_store
from marketsync.cli.common import settings_for


def register(commands: Any) -> None:
    replay = commands.add_parser("replay", help="rebuild every view and all worker state")
    replay.add_argument(
        "--verify",
        action="store_true",
        required=True,
        help="compare the rebuild with the live database",
    )
    replay.set_defaults(handler=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from marketsync.projections.replay import verify  # see marketsync.cli.operator

    verdict = verify(open_store(settings_for(args)))
    print(
        f"replayed {verdict.events} events (views at {verdict.views_position}) "
        f"into {verdict.scratch}"
    )
    if verdict.clean:
        print("replay matches the live views and worker state")
        return 0
    print(f"{len(verdict.differences)} difference(s):", file=sys.stderr)
    for line in verdict.differences:
        print(f"  {line}", file=sys.stderr)
    return 1
