"""Runs marketsync workers as real OS processes for a test, like a deployment would.

:class:`Processes` starts ``python -m marketsync --config FILE worker NAME`` with the test's
broker and database in ``MARKETSYNC_AMQP_URL`` / ``MARKETSYNC_DATABASE_URL`` and the account
credentials in the environment, then stops, kills (SIGKILL) or restarts a worker by name.
Each worker's stderr goes to ``<logs>/<name>.stderr`` (appended across restarts), to read
when a test fails. :func:`write_config` turns the :class:`~marketsync.settings.Settings` of
:func:`marketsync.demo.run_settings` back into the TOML file a deployment would have, secrets
by ``env:`` reference.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from marketsync import demo
from marketsync.amazon.simulator import SimulatorConfig, SimulatorServer, SimulatorState
from marketsync.bootstrap import open_store
from marketsync.eventlog.store import EventStore
from marketsync.settings import Settings
from marketsync.workers.broker import CONTRACT_TOPOLOGY, connect

STOP_TIMEOUT = 10.0
READY_TIMEOUT = 20.0


# --- the config file ---------------------------------------------------------------------


def config_document(settings: Settings) -> dict[str, Any]:
    """The TOML document that reads back as ``settings`` (secrets as their references)."""
    document: dict[str, Any] = {}
    amazon = {k: v for k, v in asdict(settings.amazon).items() if v is not None}
    if amazon:
        document["amazon"] = amazon
    document["pipeline"] = asdict(settings.pipeline)
    document["accounts"] = [
        {
            "name": account.name,
            "seller_id": account.seller_id,
            "marketplaces": list(account.marketplaces),
            "lwa_client_id": account.lwa_client_id.source,
            "lwa_client_secret": account.lwa_client_secret.source,
            "refresh_token": account.refresh_token.source,
            "limits": {
                operation: {"rate": limit.rate, "burst": limit.burst}
                for operation, limit in account.limits.items()
            },
        }
        for account in settings.accounts
    ]
    if settings.simulator:
        document["simulator"] = _plain(settings.simulator)
    return document


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def toml_value(value: Any) -> str:
    """One TOML value; tables become inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML has no value for {value!r} here")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
        return f'"{escaped}"'
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else toml_value(key)


def dumps(document: Mapping[str, Any]) -> str:
    """``document`` as TOML: top-level tables as ``[name]``, lists of tables as ``[[name]]``,
    everything below them inline. Checked by reading it back."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in document.items():
        if isinstance(value, Mapping):
            tables.append((f"[{toml_key(key)}]", value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            tables.extend((f"[[{toml_key(key)}]]", v) for v in value)
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for header, table in tables:
        lines.extend(["", header])
        lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items())
    text = "\n".join(lines) + "\n"
    if tomllib.loads(text) != _plain(document):
        raise AssertionError("the TOML writer does not round-trip this document")
    return text


def write_config(settings: Settings, path: Path) -> Path:
    path.write_text(dumps(config_document(settings)), encoding="utf-8")
    return path


# --- the processes -----------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    argv: list[str]
    stderr_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    exit_codes: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


class Processes:
    """Named marketsync processes sharing one config file and one environment."""

    def __init__(self, config: Path, environ: Mapping[str, str], logs: Path) -> None:
        self.config = config
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("MARKETSYNC_")}
        self.environ = {**base, **environ, "PYTHONUNBUFFERED": "1"}
        self.workers: dict[str, Worker] = {}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "marketsync", "--config", str(self.config), *args]

    def start(self, name: str, *args: str) -> Worker:
        """Start ``marketsync worker NAME`` (or ``marketsync ARGS``) under the label ``name``;
        a name started before runs again with the arguments it was first given."""
        worker = self.workers.get(name) or Worker(
            name, self.command(*(args or ("worker", name))), self.logs / f"{name}.stderr"
        )
        if worker.running:
            raise RuntimeError(f"{name} is already running (pid {worker.pid})")
        self.workers[name] = worker
        worker.starts += 1
        with worker.stderr_path.open("ab") as log:
            log.write(f"\n===== start #{worker.starts} of {name}\n".encode())
            log.flush()
            worker.process = subprocess.Popen(
                worker.argv,
                env=self.environ,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return worker

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``marketsync --config FILE ARGS`` to completion; its output as text."""
        return subprocess.run(
            self.command(*args),
            env=self.environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def wait_ready(
        self, name: str, marker: str = "worker_started", timeout: float = READY_TIMEOUT
    ) -> None:
        """Wait until the latest start of ``name`` wrote ``marker`` to its stderr."""
        worker = self.workers[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            latest = worker.stderr().rpartition(f"===== start #{worker.starts} of {name}")[2]
            if marker in latest:
                return
            if not worker.running:
                raise AssertionError(f"{name} exited early:\n{latest[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"{name} not ready after {timeout}s:\n{worker.stderr()[-3000:]}")

    def kill(self, name: str) -> int:
        """SIGKILL ``name`` and wait until it is gone; its exit code (-9)."""
        return self._signal(name, signal.SIGKILL)

    def stop(self, name: str, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM ``name`` and wait up to ``timeout`` s; its exit code."""
        return self._signal(name, signal.SIGTERM, timeout)

    def restart(self, name: str) -> Worker:
        """Start ``name`` again with the same arguments (killed first if it still runs)."""
        if self.workers[name].running:
            self.kill(name)
        return self.start(name)

    def _signal(self, name: str, signum: int, timeout: float = STOP_TIMEOUT) -> int:
        worker = self.workers[name]
        assert worker.process is not None, f"{name} was never started"
        if worker.process.poll() is None:
            worker.process.send_signal(signum)
        try:
            code = worker.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(timeout=STOP_TIMEOUT)
            raise AssertionError(
                f"{name} did not exit within {timeout}s of {signal.Signals(signum).name}:\n"
                f"{worker.stderr()[-3000:]}"
            ) from None
        worker.exit_codes.append(code)
        return code

    def close(self) -> None:
        """Kill whatever still runs (test teardown)."""
        for worker in self.workers.values():
            if worker.running:
                self.kill(worker.name)

    def stderr(self) -> str:
        """Every worker's stderr, for an assertion message."""
        return "\n".join(f"--- {w.name}\n{w.stderr()[-4000:]}" for w in self.workers.values())


@contextmanager
def processes(
    settings: Settings, environ: Mapping[str, str], directory: Path
) -> Iterator[Processes]:
    """Processes for ``settings``: config written to ``directory``, killed at the end."""
    config = write_config(settings, directory / "marketsync.toml")
    env = {
        **environ,
        "MARKETSYNC_AMQP_URL": settings.amqp_url,
        "MARKETSYNC_DATABASE_URL": settings.database_url,
    }
    running = Processes(config, env, directory / "logs")
    try:
        yield running
    finally:
        running.close()


# --- a whole pipeline of processes ---------------------------------------------------------


@dataclass
class ProcessRun:
    """The simulator in this process, the workers in their own, one database between them."""

    settings: Settings
    environ: dict[str, str]
    simulator: SimulatorServer
    store: EventStore
    procs: Processes

    def listings(self, seller_id: str) -> dict[str, dict[str, Any]]:
        response = httpx.get(f"{self.simulator.url}/_simulator/listings/{seller_id}", timeout=10)
        response.raise_for_status()
        return {item["sku"]: item for item in response.json()["listings"]}

    def feeds(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.simulator.url}/_simulator/feeds", timeout=10)
        response.raise_for_status()
        return list(response.json()["feeds"])

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.simulator.url}/_simulator/stats", timeout=10).json())


@contextmanager
def process_pipeline(
    amqp_url: str,
    database_url: str,
    burst: demo.Burst,
    directory: Path,
    *,
    environ: Mapping[str, str] | None = None,
    simulator_environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Iterator[ProcessRun]:
    """Settings as :func:`marketsync.demo.run_settings` makes them, the simulator started, the
    schema migrated and the broker topology declared; no worker started yet.

    ``environ`` holds the credentials the workers use (fresh ones by default);
    ``simulator_environ`` those the simulator accepts (the same by default)."""
    environ = dict(environ or demo.credentials_env())
    listings = demo.seed_listings(burst)
    draft = demo.run_settings(
        amqp_url, database_url, None, simulator_environ or environ, listings=listings, **overrides
    )
    simulator = SimulatorServer(SimulatorState(SimulatorConfig.from_settings(draft))).start()
    try:
        settings = demo.run_settings(
            amqp_url, database_url, simulator.url, environ, listings=listings, **overrides
        )
        store = open_store(settings)  # migrated here, before any worker races to do it
        try:
            with connect(amqp_url) as connection:
                CONTRACT_TOPOLOGY.declare(connection)  # so that publishing finds the queue
            with processes(settings, environ, directory) as procs:
                yield ProcessRun(settings, environ, simulator, store, procs)
        finally:
            store.engine.dispose()
    finally:
        simulator.stop()
