"""The fault suite's report: one table of what was survived, printed at the end of the run
and written to ``fault-report.json`` (the README quotes the latest figures)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

TALLY: Counter[str] = Counter()
ROWS = (
    ("scenarios run", "scenarios"),
    ("kills survived", "kills"),
    ("restarts survived", "restarts"),
    ("crashes injected", "crashes"),
    ("Amazon faults injected", "amazon_faults"),
    ("bad messages tried", "bad_messages"),
    ("changes published", "published"),
    ("lost", "lost"),
    ("duplicate feeds", "duplicate_feeds"),
    ("divergent SKUs", "divergent"),
)


class Tally:
    """What a scenario survived; counted only when its checks pass."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, **counts: int) -> None:
        self.counts.update(counts)


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Any:
    counter = Tally()
    yield counter
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed:
        TALLY.update(counter.counts)
        TALLY["scenarios"] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY:
        return
    terminalreporter.write_sep("=", "fault suite")
    for label, key in ROWS:
        terminalreporter.write_line(f"{label:28} {TALLY[key]:>8}")
    Path("fault-report.json").write_text(
        json.dumps({key: TALLY[key] for _, key in ROWS}, indent=2) + "\n", encoding="utf-8"
    )
