"""``marketsync worker NAME``, ``marketsync run`` and ``marketsync simulator``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from marketsync.bootstrap import WORKERS, Stopper, run_workers
from marketsync.cli.common import settings_for


def register(commands: Any) -> None:
    worker = commands.add_parser("worker", help="run one worker until SIGTERM")
    worker.add_argument("name", choices=WORKERS)
    worker.set_defaults(handler=run_one)
    run = commands.add_parser("run", help="run every worker in one process (one machine)")
    run.set_defaults(handler=run_all)
    simulator = commands.add_parser("simulator", help="serve the SP-API simulator")
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=8700)
    simulator.set_defaults(handler=run_simulator)


def _run(args: argparse.Namespace, names: tuple[str, ...]) -> int:
    settings = settings_for(args)
    stopper = Stopper()
    stopper.install_signal_handlers()
    threads = run_workers(settings, names, stopper)
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(timeout=0.5)
    if stopper.crashed:
        print(
            f"marketsync: worker {', '.join(stopper.crashed)} stopped on an error (see the log)",
            file=sys.stderr,
        )
        return 1
    return 0


def run_one(args: argparse.Namespace) -> int:
    return _run(args, (args.name,))


def run_all(args: argparse.Namespace) -> int:
    return _run(args, WORKERS)


def run_simulator(args: argparse.Namespace) -> int:
    from marketsync.amazon.simulator import serve

    serve(settings_for(args), args.host, args.port)
    return 0
