"""``marketsync jobs list|show|log`` and ``marketsync pending``: what the views say."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from marketsync.bootstrap import open_store
from marketsync.cli import operator
from marketsync.cli.common import emit_json, settings_for, table, when
from marketsync.domain.jobs import JobState, JobStatus
from marketsync.domain.sku import SkuState

# The views are imported by the commands that read them (see marketsync.cli.operator).


def register(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="the job list, one job, a job's log")
    actions = jobs.add_subparsers(dest="action", required=True, parser_class=type(jobs))
    listing = actions.add_parser("list", help="jobs, newest first")
    listing.add_argument("--account")
    listing.add_argument("--status", choices=[s.value for s in JobStatus])
    listing.add_argument("--limit", type=int, default=200)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_jobs)
    for name, handler in (("show", show_job), ("log", job_log)):
        sub = actions.add_parser(name, help=f"{name} one job")
        sub.add_argument("job_id", type=int, metavar="ID")
        sub.add_argument("--json", action="store_true")
        sub.set_defaults(handler=handler)
    operator.register_job_actions(actions)
    pending = commands.add_parser("pending", help="SKUs not yet in their newest state on Amazon")
    pending.add_argument("--account")
    pending.add_argument("--json", action="store_true")
    pending.set_defaults(handler=show_pending)


JOB_COLUMNS = (
    "ID",
    "account",
    "type",
    "status",
    "created",
    "last update",
    "items",
    "accepted",
    "rejected",
    "note",
)


def job_note(job: JobState) -> str | None:
    """What an operator must see at a glance: a stuck or abandoned feed."""
    notes = [word for word, flag in (("stuck", job.stuck), ("abandoned", job.abandoned)) if flag]
    return ", ".join(notes) or None


def job_row(job: JobState) -> list[Any]:
    return [
        job.job_id,
        job.account,
        job.job_type,
        job.status.value,
        when(job.created_at),
        when(job.updated_at),
        job.items,
        job.accepted,
        job.rejected,
        job_note(job),
    ]


def list_jobs(args: argparse.Namespace) -> int:
    from marketsync.eventlog.states import state_row
    from marketsync.projections import views

    store = open_store(settings_for(args))
    with store.read() as connection:
        found = views.list_jobs(connection, views.JobFilter(args.account, args.status, args.limit))
    if args.json:
        emit_json([state_row(j) for j in found])
    else:
        print(table(JOB_COLUMNS, [job_row(j) for j in found]))
    return 0


def _job_or_exit(store: Any, job_id: int) -> JobState | None:
    from marketsync.projections import views

    with store.read() as connection:
        job = views.get_job(connection, job_id)
    if job is None:
        print(f"marketsync: no job {job_id}", file=sys.stderr)
    return job


def show_job(args: argparse.Namespace) -> int:
    from marketsync.eventlog.states import state_row

    store = open_store(settings_for(args))
    job = _job_or_exit(store, args.job_id)
    if job is None:
        return 1
    row = state_row(job)
    if args.json:
        emit_json(row)
        return 0
    for key, value in row.items():
        shown = when(value) if key.endswith("_at") else value
        print(f"{key:16} {'-' if shown is None else shown}")
    return 0


def job_log(args: argparse.Namespace) -> int:
    from marketsync.projections import views

    store = open_store(settings_for(args))
    if _job_or_exit(store, args.job_id) is None:
        return 1
    with store.read() as connection:
        events = views.job_log(connection, args.job_id)
    if args.json:
        emit_json(
            [
                {
                    "position": e.position,
                    "version": e.version,
                    "type": e.type,
                    "recorded_at": e.recorded_at,
                    "data": e.data,
                }
                for e in events
            ]
        )
        return 0
    for e in events:
        details = {k: v for k, v in e.data.items() if k not in ("document", "report", "at")}
        print(f"{when(e.recorded_at)}  #{e.version:<3} {e.type:22} {details}")
        for bulky in ("document", "report"):
            if bulky in e.data:
                print(f"    {bulky}: {e.data[bulky]}")
    return 0


PENDING_COLUMNS = (
    "account",
    "marketplace",
    "SKU",
    "quantity",
    "price",
    "since",
    "state",
    "attempts",
    "job",
    "last error",
)


def pending_row(state: SkuState) -> list[Any]:
    price = f"{state.price} {state.currency}" if state.price else None
    error = (
        f"{state.last_error_code}: {state.last_error_message}" if state.last_error_code else None
    )
    return [
        state.account,
        state.marketplace,
        state.sku,
        state.quantity,
        price,
        when(state.pending_since),
        state.state,
        state.attempts,
        state.job_id,
        error,
    ]


def show_pending(args: argparse.Namespace) -> int:
    from marketsync.eventlog.states import state_row
    from marketsync.projections import views

    store = open_store(settings_for(args))
    with store.read() as connection:
        found = views.pending(connection, args.account)
    if args.json:
        emit_json([{**state_row(s), "state": s.state} for s in found])
    else:
        print(table(PENDING_COLUMNS, [pending_row(s) for s in found]))
        print(f"{len(found)} SKU(s) pending")
    return 0
