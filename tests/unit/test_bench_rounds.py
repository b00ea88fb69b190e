"""The ingest figure is the median of its rounds, each a batcher run beside the broker
reference measured right before it (``bench.ingest.figure``)."""

from __future__ import annotations

from marketsync.bench.broker_reference import Reference
from marketsync.bench.ingest import Ingested, Round, figure


def round_of(rate: float, broker: float) -> Round:
    result = Ingested(rate, rate, 1000, 1000, 100, 0)
    return Round(result, Reference(broker, broker, 1000, 300.0, 1000, 4000))


def test_the_median_round_is_the_figure_and_every_round_is_shown() -> None:
    rounds = [round_of(5_000, 10_000), round_of(7_000, 10_000), round_of(6_600, 11_000)]
    made = figure("ingest_sqlite", rounds, 100, {})
    assert (made.value, made.reference) == (6_600, 11_000)  # ratios 0.5, 0.7, 0.6
    assert made.met is True
    assert [r["ratio"] for r in made.details["rounds"]] == [0.5, 0.7, 0.6]


def test_of_an_even_number_the_lower_middle_round_counts() -> None:
    rounds = [round_of(7_000, 10_000), round_of(5_500, 10_000)]
    made = figure("ingest_postgresql", rounds, 100, {})
    assert made.value == 5_500 and made.met is False
