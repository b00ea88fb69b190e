"""The whole pipeline for a measurement: the SP-API simulator here, the workers in a child.

Kept apart from :mod:`marketsync.bench.processes` so that a worker's process does not import
the simulator (and its web framework) only to be measured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from marketsync.amazon.simulator import SimulatorConfig, SimulatorServer, SimulatorState
from marketsync.bench.processes import WorkerProcess
from marketsync.bench.workload import RunConfig
from marketsync.bootstrap import WORKERS
from marketsync.workers.broker import Topology, connect


@contextmanager
def pipeline(
    config: RunConfig, prefix: str, names: tuple[str, ...] = WORKERS
) -> Iterator[tuple[RunConfig, SimulatorServer, WorkerProcess]]:
    """The SP-API simulator in this process, the workers in a child: (config, simulator,
    workers). The run's exchange and queues are deleted afterwards."""
    state = SimulatorState(SimulatorConfig.from_settings(config.settings()))
    server = SimulatorServer(state).start()
    live = config.with_simulator(server.url)
    worker = WorkerProcess(live, names, prefix).start()
    try:
        yield live, server, worker
    finally:
        worker.stop()
        server.stop()
        with connect(live.settings().amqp_url) as connection:
            Topology(prefix=prefix).delete(connection)
