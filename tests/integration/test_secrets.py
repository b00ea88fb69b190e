"""No credential reaches a log line, a CLI output, an event or a view (invariant 8)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import pytest
import sqlalchemy as sa

from marketsync import demo
from marketsync.bootstrap import WORKERS
from marketsync.eventlog import tables
from marketsync.eventlog.store import EventStore
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.projections import views
from tests.integration.pipeline.processes import ProcessRun, process_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOOD, BAD = demo.ACCOUNTS  # BAD's client secret is not the one the simulator knows
FAULTS = {"throttle": {"createFeed": 1}, "server_error": {"getFeed": {"count": 1}}}


def forms(secret: str) -> set[str]:
    """The ways a secret can be written out: as is, URL-encoded, and its long random core."""
    found = {secret, quote(secret, safe=""), quote_plus(secret)}
    found.update(re.findall(r"[0-9A-Za-z]{16,}", secret))
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return sorted({name for name, secret in secrets.items() for f in forms(secret) if f in text})


def dump_database(store: EventStore) -> str:
    """Every row of every table, as JSON text."""
    lines = []
    with store.read() as connection:
        for table in tables.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)).mappings():
                lines.append(json.dumps({"table": table.name, **row}, default=str))
    return "\n".join(lines)


def cli_outputs(run: ProcessRun, job_ids: list[int]) -> dict[str, str]:
    """What an operator sees: the views as JSON (every field, unabridged), the audit, and a
    command's own JSON log lines."""
    commands = [
        ["jobs", "list", "--json"],
        ["pending", "--json"],
        ["replay", "--verify"],
        ["--log-json", "pending"],
        ["jobs", "show", str(job_ids[0]), "--json"],
        *(["jobs", "log", str(job_id), "--json"] for job_id in job_ids),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:  # read-only: they may run side by side
        results = pool.map(lambda args: run.procs.cli(*args), commands)
        done = dict(zip(map(" ".join, commands), results, strict=True))
    failed = {args: d.stderr for args, d in done.items() if d.returncode != 0}
    assert not failed, failed
    return {args: d.stdout + d.stderr for args, d in done.items()}


def test_no_credential_appears_in_logs_cli_output_events_or_views(
    amqp_user_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    """No credential reaches a worker's log, a CLI output, an event or a view, even on errors."""
    # Errors on purpose: a 429, a 500, and an account whose LWA client secret Amazon refuses.
    burst = demo.make_burst(400, 20)
    environ = demo.credentials_env()
    simulator_environ = {**environ, "DEMO_DE_CLIENT_SECRET": "secret-the-simulator-expects"}
    with process_pipeline(
        amqp_user_url,
        sqlite_url,
        burst,
        tmp_path,
        environ=environ,
        simulator_environ=simulator_environ,
        simulator={"faults": FAULTS},
    ) as run:
        for name in WORKERS:
            run.procs.start(name)
        with StorefrontPublisher(amqp_user_url) as publisher:
            publisher.publish_many(burst.events)
        state = demo.wait_settled(run.store, len(burst.events), timeout=60)
        assert state.settled, f"{state}\n{run.procs.stderr()}"
        with run.store.read() as connection:
            jobs = views.list_jobs(connection, views.JobFilter(limit=1000))
        refused = [j for j in jobs if j.account == BAD[0]]
        assert refused and all(j.status == "error" for j in refused), "the bad login mattered"
        done = next((j for j in jobs if j.account == GOOD[0] and j.status == "done"), None)
        assert done is not None, "the good account's jobs went through"
        outputs = cli_outputs(run, [refused[0].job_id, done.job_id])
        for name in WORKERS:
            assert run.procs.stop(name) == 0, run.procs.stderr()
        texts = {
            **{f"stderr of {w.name}": w.stderr() for w in run.procs.workers.values()},
            **{f"marketsync {args}": text for args, text in outputs.items()},
            "database": dump_database(run.store),
            "config file": run.procs.config.read_text(),
        }
    secrets = dict(environ)
    password = urlsplit(amqp_user_url).password
    assert password
    secrets["AMQP password"] = password
    found = {where: leaks(text, secrets) for where, text in texts.items()}
    assert not {where: names for where, names in found.items() if names}
    assert "Login with Amazon refused" in (refused[0].error or "")  # still says what failed
    assert "ApiCallDeferred" in texts["database"], "the injected faults were met"
