"""The runs' counts are plain numbers turned into Prometheus families at scrape time:
they must read exactly as `prometheus_client`'s own counters and histograms would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from automations.telemetry import Metrics
from automations.telemetry._tallies import CounterTally, HistogramTally

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
LABELS = ("manual", "schedule")


class _Families(Collector):
    def __init__(self, *tallies: CounterTally | HistogramTally) -> None:
        self._tallies = tallies

    def collect(self) -> Iterator[Metric]:
        for tally in self._tallies:
            yield tally.family()


def _without_created(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if "_created" not in line]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(LABELS),
            # Bounds themselves (a bucket's `le` holds them), around them, and far out.
            st.one_of(st.sampled_from(BUCKETS), st.floats(0, 1000, allow_nan=False)),
        ),
        max_size=40,
    )
)
def test_the_exposition_is_the_one_of_prometheus_client(
    observed: list[tuple[str, float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    lag = HistogramTally("lag_seconds", "Lag.", ["trigger"], BUCKETS)
    runs = CounterTally("runs", "Runs.", ["trigger"])
    missed = CounterTally("missed", "Missed.")
    ours.register(_Families(lag, runs, missed))
    their_lag = Histogram("lag_seconds", "Lag.", ["trigger"], buckets=BUCKETS, registry=theirs)
    their_runs = Counter("runs", "Runs.", ["trigger"], registry=theirs)
    their_missed = Counter("missed", "Missed.", registry=theirs)
    for trigger, seconds in observed:
        lag.observe(lag.cell(trigger, (trigger,)), seconds)
        runs.cell(trigger, (trigger,))[0] += 1
        missed.cell((), ())[0] += 2
        their_lag.labels(trigger).observe(seconds)
        their_runs.labels(trigger).inc()
        their_missed.inc(2)
    ours_text, their_text = generate_latest(ours), generate_latest(theirs)
    # Same series in the same order, bar `_created`, and the same values.
    assert sorted(_without_created(ours_text)) == sorted(_without_created(their_text))


def test_a_registry_holds_one_metrics() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    with pytest.raises(ValueError, match="automations_runs_started"):
        Metrics(registry)
