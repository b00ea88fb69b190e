"""The ``marketsync`` command as an operator runs it: a subprocess, its exit code and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pika
import pytest

from marketsync import demo
from marketsync.bootstrap import WORKERS
from marketsync.producers.publisher import StorefrontPublisher
from marketsync.schemas.storefront import EXCHANGE, ProductChanged, parse_message
from tests import services
from tests.integration.pipeline.processes import ProcessRun, process_pipeline

pytestmark = pytest.mark.integration

ACCOUNT, SELLER, MARKETPLACE, CURRENCY = demo.ACCOUNTS[0]
JOB_COLUMNS = ["ID", "account", "type", "status", "created", "last update", "items", "accepted"]
PENDING_COLUMNS = ["account", "marketplace", "SKU", "quantity", "price", "since", "state"]
JOB_LOG = [
    "JobReserved",
    "JobCreated",
    "JobProcessingStarted",
    "FeedDocumentUploaded",
    "FeedSubmitted",
    "FeedReportReceived",
    "JobEnded",
]


def marketsync(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MARKETSYNC_")}
    environ["MARKETSYNC_DATABASE_URL"] = f"sqlite:///{cwd / 'cli.db'}"
    return subprocess.run(
        [sys.executable, "-m", "marketsync", *args],
        env={**environ, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- bad usage: one line, no traceback, exit 2 ------------------------------------------------

INLINE_SECRET = "inline-secret-8d0c2f"


def inline_secret_config(directory: Path) -> Path:
    path = directory / "inline.toml"
    path.write_text(
        "[[accounts]]\n"
        'name = "acme-us"\n'
        'seller_id = "A1SELLERUS"\n'
        'marketplaces = ["ATVPDKIKX0DER"]\n'
        'lwa_client_id = "env:ACME_LWA_CLIENT_ID"\n'
        f'lwa_client_secret = "{INLINE_SECRET}"\n'
        'refresh_token = "env:ACME_REFRESH_TOKEN"\n',
        encoding="utf-8",
    )
    return path


BAD_USAGE = {
    "job id not a number": (["jobs", "show", "notanumber"], "notanumber"),
    "unknown command": (["bogus"], "bogus"),
    "publish without its required options": (
        ["publish", "product-changed", "--account", "a"],
        "--marketplace",
    ),
    "publish a negative quantity": (
        [
            *("publish", "product-changed", "--account", "a", "--marketplace", MARKETPLACE),
            *("--sku", "S", "--quantity", "-3"),
        ],
        "data.quantity",
    ),
    "config file that does not exist": (
        ["--config", "/nonexistent/marketsync.toml", "jobs", "list"],
        "/nonexistent/marketsync.toml",
    ),
    "inline secret in the config": (["--config", "{inline}", "jobs", "list"], "lwa_client_secret"),
}


@pytest.mark.parametrize("case", list(BAD_USAGE))
def test_bad_usage_prints_one_line_and_exits_2(case: str, tmp_path: Path) -> None:
    """Bad arguments or config: one line on stderr, no traceback, nothing on stdout, exit 2."""
    args, named = BAD_USAGE[case]
    args = [a.replace("{inline}", str(inline_secret_config(tmp_path))) for a in args]
    env = {"ACME_LWA_CLIENT_ID": "amzn1.application-oa2-client.x", "ACME_REFRESH_TOKEN": "Atzr|y"}
    done = marketsync(*args, cwd=tmp_path, env=env)
    assert done.returncode == 2, done
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert named in lines[0] and "Traceback" not in lines[0]
    assert done.stdout == ""
    assert INLINE_SECRET not in done.stderr


@pytest.mark.parametrize("worker", WORKERS)
def test_a_worker_whose_database_is_unreachable_says_so_and_exits_3(
    worker: str, tmp_path: Path
) -> None:
    """Checked before any worker thread starts, the batcher's included (its recorder, a
    child process, opens the database): a message, no traceback, exit 3."""
    unreachable = {"MARKETSYNC_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"}
    done = marketsync("worker", worker, cwd=tmp_path, env=unreachable)
    assert done.returncode == 3, done
    assert done.stderr.startswith("marketsync: database unavailable: "), done.stderr
    assert "Traceback" not in done.stderr


# --- publish ---------------------------------------------------------------------------------


@pytest.fixture
def observer(amqp_url: str) -> str:
    """A queue bound to everything on the storefront exchange of the test's vhost."""
    queue = f"observer.{uuid.uuid4().hex[:8]}"
    with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
        channel = connection.channel()
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        channel.queue_declare(queue)
        channel.queue_bind(queue, EXCHANGE, routing_key="#")
    return queue


def test_publish_sends_one_change_with_the_contract_properties(
    amqp_url: str, observer: str, tmp_path: Path
) -> None:
    """publish product-changed sends one persistent JSON message with the contract's properties."""
    sku = 'SKU "1"; $(touch x)'
    done = marketsync(
        *["publish", "product-changed", "--account", ACCOUNT, "--marketplace", MARKETPLACE],
        *["--sku", sku, "--quantity", "10", "--price", "19.99", "--currency", CURRENCY],
        *["--version", "42"],
        cwd=tmp_path,
        env={"MARKETSYNC_AMQP_URL": amqp_url},
    )
    assert done.returncode == 0, done.stderr
    with closing(pika.BlockingConnection(pika.URLParameters(amqp_url))) as connection:
        channel = connection.channel()
        method, properties, body = channel.basic_get(observer, auto_ack=True)
        assert method is not None, "nothing was published"
        assert channel.basic_get(observer, auto_ack=True)[0] is None, "published twice"
    event = parse_message(body)
    assert isinstance(event, ProductChanged)
    assert (event.account, event.marketplace_id, event.sku, event.version) == (
        ACCOUNT,
        MARKETPLACE,
        sku,
        42,
    )
    assert event.quantity == 10
    assert event.price is not None and (str(event.price.amount), event.price.currency) == (
        "19.99",
        CURRENCY,
    )
    assert (method.exchange, method.routing_key) == (EXCHANGE, f"product.changed.{ACCOUNT}")
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert properties.message_id == event.id
    assert event.id in done.stdout
    assert not (tmp_path / "x").exists()


# --- the views after a run -------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProcessRun]:
    """A small pipeline run to its end in worker processes (SQLite file shared with the CLI):
    one SKU Amazon has no listing for and one price Amazon refuses stay pending."""
    vhost = services.rabbitmq_vhost()  # amqp_url is per test; this run is per module
    amqp_url = next(vhost)
    directory = tmp_path_factory.mktemp("cli-run")
    burst = demo.make_burst(200, 10, accounts=(demo.ACCOUNTS[0],), unlisted=1, refused=1)
    try:
        with process_pipeline(
            amqp_url, f"sqlite:///{directory / 'marketsync.db'}", burst, directory
        ) as run:
            for name in WORKERS:
                run.procs.start(name)
            with StorefrontPublisher(amqp_url) as publisher:
                publisher.publish_many(burst.events)
            state = demo.wait_settled(run.store, len(burst.events), timeout=60)
            assert state.settled, f"{state}\n{run.procs.stderr()}"
            for name in WORKERS:
                run.procs.stop(name)
            yield run
    finally:
        next(vhost, None)


def cli_ok(run: ProcessRun, *args: str) -> str:
    done = run.procs.cli(*args)
    assert done.returncode == 0, f"marketsync {' '.join(args)}: {done.stderr}"
    return done.stdout


def header(text: str) -> str:
    return text.splitlines()[0]


def test_jobs_list_prints_every_job_with_its_columns(finished: ProcessRun) -> None:
    """jobs list prints a column header and one row per job, newest first; --json the same."""
    listed = json.loads(cli_ok(finished, "jobs", "list", "--json"))
    assert listed and all(job["status"] == "done" for job in listed)
    assert [job["job_id"] for job in listed] == sorted((j["job_id"] for j in listed), reverse=True)
    assert {"job_id", "account", "job_type", "status", "items", "accepted", "rejected"} <= set(
        listed[0]
    )
    text = cli_ok(finished, "jobs", "list")
    assert all(column in header(text) for column in JOB_COLUMNS), header(text)
    rows = text.splitlines()[2:]
    assert [int(row.split()[0]) for row in rows] == [job["job_id"] for job in listed]
    assert all(f" {ACCOUNT} " in row and " done " in row for row in rows)


def test_jobs_show_and_log_print_one_job_and_its_history(finished: ProcessRun) -> None:
    """jobs show prints a job; jobs log its events with document and report; both as JSON."""
    job_id = json.loads(cli_ok(finished, "jobs", "list", "--json"))[-1]["job_id"]
    shown = json.loads(cli_ok(finished, "jobs", "show", str(job_id), "--json"))
    assert (shown["job_id"], shown["account"], shown["status"]) == (job_id, ACCOUNT, "done")
    assert shown["feed_id"]
    text = cli_ok(finished, "jobs", "show", str(job_id))
    fields = dict(line.split(None, 1) for line in text.splitlines() if " " in line.strip())
    assert fields["job_id"].strip() == str(job_id) and fields["status"].strip() == "done"
    assert fields["feed_id"].strip() == shown["feed_id"]

    logged = json.loads(cli_ok(finished, "jobs", "log", str(job_id), "--json"))
    types = [event["type"] for event in logged]
    assert [t for t in types if t in JOB_LOG] == JOB_LOG, types
    assert [event["version"] for event in logged] == sorted(event["version"] for event in logged)
    created = next(event for event in logged if event["type"] == "JobCreated")
    assert SELLER in created["data"]["document"]
    text = cli_ok(finished, "jobs", "log", str(job_id))
    assert all(t in text for t in JOB_LOG)
    assert "    document: " in text and "    report: " in text


def test_jobs_show_of_an_unknown_job_says_so(finished: ProcessRun) -> None:
    """``jobs show`` / ``jobs log`` of a job that does not exist: one line, exit 1."""
    for action in ("show", "log"):
        done = finished.procs.cli("jobs", action, "999999")
        assert done.returncode == 1
        assert done.stderr.splitlines() == ["marketsync: no job 999999"]


def test_pending_lists_the_skus_amazon_has_not_accepted(finished: ProcessRun) -> None:
    """pending lists the SKUs Amazon refused with its reason and a count; --json the same."""
    pending = json.loads(cli_ok(finished, "pending", "--json"))
    burst_leftovers = 2  # one unlisted SKU and one refused price
    assert len(pending) == burst_leftovers, pending
    assert all(item["account"] == ACCOUNT and item["last_error_code"] for item in pending)
    text = cli_ok(finished, "pending")
    lines = text.splitlines()
    assert all(column in lines[0] for column in PENDING_COLUMNS), lines[0]
    assert "last error" in lines[0]
    assert lines[-1] == f"{burst_leftovers} SKU(s) pending"
    for item in pending:
        row = next(line for line in lines[2:-1] if f" {item['sku']} " in line)
        assert item["last_error_code"] in row
