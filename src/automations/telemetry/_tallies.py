"""Counters and histograms kept as plain numbers, turned into Prometheus families only
when scraped.

The change feed tells a transition on the event loop for every run; a
`prometheus_client` child takes a lock per value and walks a histogram's buckets on
every observation, which cost more than the rest of a run's metrics together. Here an
observation is a `bisect` and two additions to a list, under the one lock of the
owner (several runtimes of a process may share a `Metrics`, each on its own thread),
and the exposition is built from a copy of the lists when Prometheus asks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

__all__ = ["CounterTally", "HistogramTally"]

_bound_name: Callable[[float], str] = floatToGoString
"""A bucket's `le` as `prometheus_client` writes it (the library's function has no hints)."""


class CounterTally:
    """A counter by label values: `cell(key)` once per key (or `cells.get(key)`, a
    call less on the hot path), then add to `cell[0]`."""

    __slots__ = ("_documentation", "_label_names", "_labels", "_name", "cells")

    def __init__(self, name: str, documentation: str, label_names: Sequence[str] = ()) -> None:
        self._name = name
        self._documentation = documentation
        self._label_names = tuple(label_names)
        self.cells: dict[Hashable, list[float]] = {}
        """By the caller's key (an enum, a tuple of them): cheaper than label strings."""
        self._labels: dict[Hashable, tuple[str, ...]] = {}
        if not self._label_names:
            self.cell((), ())  # an unlabelled counter is 0 before its first count

    def cell(self, key: Hashable, labels: tuple[str, ...]) -> list[float]:
        """The counter of `key`, whose label values are `labels` (made on first use)."""
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = [0.0]
            self._labels[key] = labels
        return cell

    def family(self) -> CounterMetricFamily:
        """Call it holding the owner's lock: it copies the counts."""
        family = CounterMetricFamily(self._name, self._documentation, labels=self._label_names)
        for key, cell in self.cells.items():
            family.add_metric(self._labels[key], cell[0])
        return family

    def describe(self) -> CounterMetricFamily:
        return CounterMetricFamily(self._name, self._documentation, labels=self._label_names)


class HistogramTally:
    """A histogram by label values: a cell holds each bucket's own count (not
    cumulative), the +Inf bucket's, then the sum; `observe(cell, value)` adds one."""

    __slots__ = (
        "_bound_names",
        "_bounds",
        "_documentation",
        "_label_names",
        "_labels",
        "_name",
        "cells",
    )

    def __init__(
        self,
        name: str,
        documentation: str,
        label_names: Sequence[str],
        buckets: Sequence[float],
    ) -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError(f"the buckets of {name} must be increasing and distinct")
        self._name = name
        self._documentation = documentation
        self._label_names = tuple(label_names)
        self._bounds = tuple(float(b) for b in buckets)
        self._bound_names = (*(_bound_name(b) for b in self._bounds), "+Inf")
        self.cells: dict[Hashable, list[float]] = {}
        self._labels: dict[Hashable, tuple[str, ...]] = {}

    def cell(self, key: Hashable, labels: tuple[str, ...]) -> list[float]:
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = [0.0] * (len(self._bounds) + 2)
            self._labels[key] = labels
        return cell

    def observe(self, cell: list[float], value: float) -> None:
        # The first bound not below the value: Prometheus' `le`.
        cell[bisect_left(self._bounds, value)] += 1
        cell[-1] += value

    def family(self) -> HistogramMetricFamily:
        """Call it holding the owner's lock: it copies the counts."""
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._label_names)
        for key, cell in self.cells.items():
            cumulative, buckets = 0.0, []
            for name, count in zip(self._bound_names, cell, strict=False):
                cumulative += count
                buckets.append((name, cumulative))
            family.add_metric(self._labels[key], buckets, cell[-1])
        return family

    def describe(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self._name, self._documentation, labels=self._label_names)
