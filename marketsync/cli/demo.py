"""``marketsync demo``: see :mod:`marketsync.demo`."""

from __future__ import annotations

import argparse
import uuid
from typing import Any
from urllib.parse import urlsplit

from marketsync import logs
from marketsync.reachability import reachable
from marketsync.settings import environment

EXIT_UNAVAILABLE = 3


def register(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run the whole pipeline against the simulator")
    demo.add_argument("--changes", type=int, default=3000)
    demo.add_argument("--skus", type=int, default=150, help="SKUs per account")
    demo.add_argument("--timeout", type=float, default=300.0)
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from marketsync import demo
    from marketsync.amazon.simulator import SimulatorConfig, SimulatorServer, SimulatorState
    from marketsync.bootstrap import WORKERS, Stopper, open_store, run_workers
    from marketsync.cli.common import table
    from marketsync.cli.views import JOB_COLUMNS, PENDING_COLUMNS, job_row, pending_row
    from marketsync.producers.publisher import StorefrontPublisher
    from marketsync.projections import views
    from marketsync.projections.replay import verify
    from marketsync.settings import DEFAULT_AMQP_URL
    from marketsync.workers.broker import Topology, connect

    amqp_url = environment().get("MARKETSYNC_AMQP_URL") or DEFAULT_AMQP_URL
    if not reachable(amqp_url, 5672):
        parts = urlsplit(amqp_url)
        print(
            f"marketsync demo needs RabbitMQ at {parts.hostname}:{parts.port or 5672} "
            "(start it, e.g. `rabbitmq-server -detached`, or set MARKETSYNC_AMQP_URL)"
        )
        return EXIT_UNAVAILABLE
    burst = demo.make_burst(args.changes, args.skus, unlisted=4, refused=4)
    environ = demo.credentials_env()
    draft = demo.run_settings(
        amqp_url, demo.scratch_database(), None, environ, listings=demo.seed_listings(burst)
    )
    logs.configure(draft.secret_values())
    simulator = SimulatorServer(SimulatorState(SimulatorConfig.from_settings(draft))).start()
    settings = demo.run_settings(
        amqp_url, draft.database_url, simulator.url, environ, listings=demo.seed_listings(burst)
    )
    topology = Topology(prefix=f"marketsync-demo-{uuid.uuid4().hex[:8]}")
    stopper = Stopper()
    stopper.install_signal_handlers()
    demo.say(
        f"database {settings.database_url}\nsimulator {simulator.url}\n"
        f"broker exchange {topology.exchange.name}"
    )
    try:
        run_workers(settings, WORKERS, stopper, topology)
        with connect(amqp_url) as connection:
            topology.declare(connection)
        with StorefrontPublisher(amqp_url, exchange=topology.exchange.name) as publisher:
            published = publisher.publish_many(burst.events + burst.events[:50])
        demo.say(
            f"published {published} changes (50 of them twice) over "
            f"{len(burst.final)} SKUs in {len(demo.ACCOUNTS)} accounts"
        )
        store = open_store(settings)
        state = demo.wait_settled(store, len(burst.events), args.timeout)
        with store.read() as connection:
            jobs = views.list_jobs(connection, views.JobFilter(limit=1000))
            pending = views.pending(connection)
        demo.say(table(JOB_COLUMNS, [job_row(j) for j in reversed(jobs)]))
        demo.say(f"\npending queue ({len(pending)} SKU(s), each with Amazon's reason):")
        demo.say(table(PENDING_COLUMNS, [pending_row(s) for s in pending]))
        verdict = verify(store)
        demo.say(
            f"\nreplay --verify: {verdict.events} events, "
            f"{'clean' if verdict.clean else 'DIFFERENCES'}"
        )
        if not state.settled or not verdict.clean:
            demo.say(f"the pipeline did not settle: {state}")
            return 1
        return 0
    finally:
        stopper.stop()
        simulator.stop()
        with connect(amqp_url) as connection:
            topology.delete(connection)
