"""The fault suite's report: one table of what was survived, printed at the end of the run
and written to ``fault-report.json`` (the README quotes the latest figures).

``--long`` turns the suite into a soak: the ``scale`` fixture becomes ``--long-factor``
(default 5) instead of 1, scenarios multiply their sizes and fault counts by it, and each
test's timeout grows by the same factor. The options are known when pytest is pointed at
``tests/faults`` (``pytest tests/faults --long``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketsync import demo
from tests.faults.scenario import PIPELINE
from tests.integration.pipeline.processes import ProcessRun, process_pipeline

TALLY: Counter[str] = Counter()
LONG_FACTOR = 5
BASE_TIMEOUT = 600.0
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


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("faults", "fault suite (tests/faults)")
    group.addoption(
        "--long",
        action="store_true",
        default=False,
        help="soak: multiply each scenario's sizes and faults by --long-factor",
    )
    group.addoption(
        "--long-factor",
        action="store",
        type=int,
        default=LONG_FACTOR,
        metavar="N",
        help=f"how much longer --long runs (default {LONG_FACTOR})",
    )


def scale_of(config: pytest.Config) -> int:
    if not config.getoption("long", default=False):
        return 1
    return max(1, int(config.getoption("long_factor", default=LONG_FACTOR)))


@pytest.fixture(scope="session")
def scale(pytestconfig: pytest.Config) -> int:
    """How much bigger than the everyday run each scenario is (1, or N under ``--long``)."""
    return scale_of(pytestconfig)


@pytest.fixture
def run(
    amqp_url: str, postgres_url: str, tmp_path: Path, burst: demo.Burst
) -> Iterator[ProcessRun]:
    """The pipeline as processes, fed the test module's own ``burst``."""
    with process_pipeline(amqp_url, postgres_url, burst, tmp_path, pipeline=PIPELINE) as running:
        yield running


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    factor = scale_of(config)
    if factor == 1:
        return
    for item in items:
        if item.get_closest_marker("faults") is not None:
            item.add_marker(pytest.mark.timeout(BASE_TIMEOUT * factor))


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
