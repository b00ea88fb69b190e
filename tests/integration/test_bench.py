"""``marketsync bench --quick``: every figure is produced, printed and written as JSON.

Whether the targets are met depends on the machine; that the figures exist does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIGURES = {
    "broker_reference",
    "publisher_sdk",
    "ingest_postgresql",
    "ingest_sqlite",
    "coalescing_feed_messages",
    "coalescing_createFeed_calls",
    "freshness_p50",
    "freshness_p99",
    "replay_sqlite",
    "batcher_peak_rss",
}
WITH_TARGET = FIGURES - {"broker_reference", "publisher_sdk", "freshness_p50"}


def test_quick_bench_produces_every_figure(tmp_path: Path) -> None:
    """The quick bench prints a row for every figure and writes each, with its reference,
    ratio and verdict, to the JSON file; it removes the vhost and databases it made."""
    amqp, postgres = services.amqp_server_url(), services.postgres_server_url()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MARKETSYNC_")}
    environ["MARKETSYNC_AMQP_URL"] = amqp
    out = tmp_path / "bench.json"
    command = ["bench", "--quick", "--json", str(out), "--postgres", postgres]
    done = subprocess.run(
        [sys.executable, "-m", "marketsync", *command],
        env=environ,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in FIGURES:
        assert name in done.stdout, f"{name} missing from the table:\n{done.stdout}"

    document = json.loads(out.read_text())
    figures = {f["name"]: f for f in document["figures"]}
    assert set(figures) == FIGURES
    for name, figure in figures.items():
        assert figure["error"] is None, (name, figure["error"])
        assert isinstance(figure["value"], int | float) and figure["value"] >= 0, name
    for name in WITH_TARGET:
        assert figures[name]["reference"], name
        assert isinstance(figures[name]["ratio"], float), name
        assert isinstance(figures[name]["met"], bool), name
    for name in ("ingest_postgresql", "ingest_sqlite"):  # the batcher's parts, measured apart
        details = figures[name]["details"]
        assert details["handler_alone_rate"] > 0 and details["kombu_consumer_alone_rate"] > 0
    assert document["mode"] == "quick"
    assert document["machine"]["cores"] >= 1
    assert document["machine"]["rabbitmq"] and document["machine"]["postgresql"]
    assert_cleaned_up(document["run_id"], postgres)


def assert_cleaned_up(run_id: str, postgres: str) -> None:
    import sqlalchemy as sa

    vhosts = subprocess.run(
        ["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, check=False
    ).stdout
    assert f"marketsync-bench-{run_id}" not in vhosts
    engine = sa.create_engine(postgres.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        left = connection.execute(
            sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
            {"p": f"marketsync_bench_{run_id}%"},
        ).scalars()
        assert list(left) == []
    engine.dispose()
