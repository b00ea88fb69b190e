"""The ingest figure is the median of its rounds, each a batcher run compared with the mean
of the broker references measured right before and right after it (``bench.ingest.figure``)."""

from __future__ import annotations

from marketsync.bench.broker_reference import Reference
from marketsync.bench.ingest import Ingested, Round, figure


def reference(rate: float) -> Reference:
    return Reference(rate, rate, 1000, 300.0, 1000, 4000)


def round_of(rate: float, broker: float, after: float | None = None) -> Round:
    result = Ingested(rate, rate, 1000, 1000, 100, 0)
    return Round(result, reference(broker), reference(broker if after is None else after))


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


def test_a_round_is_compared_with_the_mean_of_the_references_around_it() -> None:
    # the broker was slow before the run and fast after it: neither side alone is fair
    made = figure("ingest_postgresql", [round_of(6_000, 8_000, after=12_000)], 100, {})
    assert made.reference == 10_000
    assert made.details["rounds"] == [
        {"rate": 6_000, "broker_before": 8_000, "broker_after": 12_000, "ratio": 0.6}
    ]
    assert made.met is True  # against the reference before it alone: 0.75; after: 0.5
