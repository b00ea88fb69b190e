"""Checks that the Alembic migrations and :mod:`marketsync.eventlog.tables` agree."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from marketsync.eventlog import tables
from marketsync.eventlog.database import alembic_config


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would write to bring the database to ``tables.metadata``."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, tables.metadata))


def current_revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def head_revisions(engine: Engine) -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


_MIGRATE = """
import sys, time
from marketsync.eventlog.database import create_engine, migrate
engine = create_engine(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
migrate(engine)
"""


def migrate_concurrently(url: str, starts: int = 4, timeout: float = 90.0) -> list[str]:
    """``starts`` processes migrate ``url`` at the same moment (as workers started together
    would); the error each one that failed raised."""
    at = time.time() + 1.5  # by then every process has imported and waits
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, url, repr(at)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(starts)
    ]
    errors = []
    try:
        for process in processes:
            _, stderr = process.communicate(timeout=timeout)
            if process.returncode != 0:
                raised = [line for line in stderr.splitlines() if "Error: " in line]
                errors.append((raised or [stderr.strip() or "(no output)"])[-1])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return errors
