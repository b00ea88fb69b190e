"""The pipeline's workers in a child process of their own, as they run in production.

:class:`WorkerProcess` spawns a fresh interpreter that builds the settings from a
:class:`~marketsync.bench.workload.RunConfig`, runs the named workers through the composition
root (:func:`marketsync.bootstrap.run_workers`) on the measurement's own broker prefix, and
on SIGTERM stops them cleanly and reports its peak resident set size (``VmHWM``).
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from marketsync.bench.workload import RunConfig

STOP_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class WorkerExit:
    peak_rss_bytes: int  # VmHWM from /proc/self/status, plus its children's peak
    maxrss_bytes: int  # getrusage, the same figure by another route
    clean: bool  # every worker stopped on the signal rather than crashing


def peak_rss() -> int:
    """This process's peak resident set size in bytes (``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _main(config: RunConfig, names: tuple[str, ...], prefix: str, results: Any) -> None:
    from marketsync import logs
    from marketsync.bootstrap import Stopper, run_workers
    from marketsync.workers.broker import Topology

    settings = config.settings()
    logs.configure(settings.secret_values(), level=logging.WARNING)
    stopper = Stopper()
    stopper.install_signal_handlers()
    threads = run_workers(settings, names, stopper, Topology(prefix=prefix))
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(timeout=0.5)
    # A worker's own processes (the batcher's recorder) have ended by now; their peak is
    # added to this one's, which overstates rather than understates the two together.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    results.put(WorkerExit(peak_rss() + children, maxrss + children, clean=stopper.event.is_set()))


class WorkerProcess:
    """``names`` workers (``batcher``, ``poller``, ``projector``) in one child process."""

    def __init__(self, config: RunConfig, names: tuple[str, ...], prefix: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._results = context.Queue()
        self._process = context.Process(
            target=_main, args=(config, names, prefix, self._results), name="bench-workers"
        )
        self.exit: WorkerExit | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.is_alive()

    def start(self) -> Self:
        self._process.start()
        return self

    def stop(self) -> WorkerExit:
        """SIGTERM, then the child's report (a crashed child reports zeros, not clean)."""
        if self.exit is not None:
            return self.exit
        if self._process.is_alive():
            self._process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.exit is None and time.monotonic() < deadline:
            try:
                self.exit = self._results.get(timeout=0.5)
            except Exception:  # queue.Empty: not yet, or the child died without reporting
                if not self._process.is_alive() and self._results.empty():
                    break
        self.exit = self.exit or WorkerExit(0, 0, clean=False)
        self._process.join(timeout=max(1.0, deadline - time.monotonic()))
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        return self.exit

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
