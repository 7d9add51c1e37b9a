"""Prometheus metrics of one runtime (the `prometheus` extra: `prometheus-client`).

Transitions are counted from the store's change feed of this process's own commits,
so nothing is added to the actors' paths and a fleet's workers can be summed without
counting a run twice. Labels are bounded sets (trigger, state, stop reason, error
code, the scope of a lease): never a run or automation id.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

from ..model import Event, Run, RunState, RunUpdated, Scope
from ._tallies import CounterTally, HistogramTally

__all__ = ["CONTENT_TYPE", "Metrics", "first_start"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The media type of `Metrics.exposition()`."""

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_DURATION_BUCKETS = (
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
)  # fmt: skip
_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
_BATCH_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
_ENDS = frozenset(state for state in RunState if state.is_terminal)


def first_start(run: Run) -> bool:
    """Whether this revision is the run's first `running`: a run is `scheduled` at
    revision 1 and `scheduled` leads only to `running` or an end, so its first start
    is revision 2 (a resume after a blocker comes later)."""
    return run.state is RunState.RUNNING and run.revision == 2


class Metrics:
    """The metrics of a runtime, in `registry` (a registry of its own by default;
    pass `prometheus_client.REGISTRY` to join the process's default one). Give it to
    `open_runtime(metrics=...)` (several runtimes of a process may share one; a registry
    holds one `Metrics`); serve it with `exposition()`, the HTTP app's `/metrics` or
    `serve --metrics`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry if registry is not None else CollectorRegistry()
        self._now: Callable[[], datetime] = _utc_now
        self._awaiting: dict[str, datetime] = {}
        """Runs of this process waiting on a person, with when they asked."""
        self._lock = threading.Lock()
        """Held while a transition is counted and while a scrape copies the counts (a
        scrape comes from another thread; runtimes sharing this may be on others)."""
        # What the change feed counts, on every run: plain numbers (see `_tallies`).
        self._runs_started = CounterTally(
            "automations_runs_started",
            "Runs whose executor started (their first `running`), by trigger.",
            ["trigger"],
        )
        self._runs_ended = CounterTally(
            "automations_runs_ended",
            "Runs that reached a terminal state, by state, stop reason and error code "
            "(empty when not applicable).",
            ["state", "stop_reason", "error_code"],
        )
        self._fire_lag = HistogramTally(
            "automations_fire_lag_seconds",
            "From a run's slot (or request, for a manual run) to its executor's start.",
            ["trigger"],
            _LAG_BUCKETS,
        )
        self._run_duration = HistogramTally(
            "automations_run_duration_seconds",
            "From a run's start to its end, waits on people included, by final state.",
            ["state"],
            _DURATION_BUCKETS,
        )
        self._missed_slots = CounterTally(
            "automations_missed_slots",
            "Slots that passed unfired (each missed record counts its slots).",
        )
        self._missed = self._missed_slots.cell((), ())
        registry.register(self)
        awaiting = Gauge(
            "automations_runs_awaiting_input",
            "Runs of this process waiting on a person now.",
            registry=registry,
        )
        awaiting.set_function(self._awaiting_count)
        oldest = Gauge(
            "automations_oldest_awaiting_input_seconds",
            "How long the longest-waiting run of this process has waited on a person (0: none).",
            registry=registry,
        )
        oldest.set_function(self._oldest_age)
        self.lease_held = Gauge(
            "automations_lease_held",
            "1 while this process holds the scheduler lease of the scope, else 0.",
            ["project", "directory"],
            registry=registry,
        )
        self.lease_changes = Counter(
            "automations_lease_changes",
            "Times this process took or lost the scheduler lease of the scope.",
            ["project", "directory", "change"],
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "automations_store_commit_seconds",
            "One group commit of the store, from its first statement to its end.",
            buckets=_COMMIT_BUCKETS,
            registry=registry,
        )
        self.commit_operations = Histogram(
            "automations_store_commit_operations",
            "Operations in one group commit (the batch size).",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.inbox_depth = Gauge(
            "automations_inbox_depth",
            "Commands from other processes (run now, answer, cancel) being handled here.",
            registry=registry,
        )

    def use_clock(self, now: Callable[[], datetime]) -> None:
        """Age the waits on the runtime's clock (a test's manual one, say)."""
        self._now = now

    def exposition(self) -> bytes:
        """The Prometheus text format of the registry (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    # -- the change feed -------------------------------------------------------------

    def on_commit(self, scope: Scope, event: Event) -> None:
        """The store's change listener: count what this process committed."""
        if isinstance(event, RunUpdated) and event.run.state is not RunState.SCHEDULED:
            self.count(event.run)

    def count(self, run: Run) -> None:
        """Count a transition this process committed; `scheduled` is not one (a run is
        counted when it starts or ends)."""
        state = run.state
        with self._lock:
            if state is RunState.AWAITING_INPUT:
                if run.blocker is not None:
                    self._awaiting[run.id] = run.blocker.asked_at
                return
            if self._awaiting:
                self._awaiting.pop(run.id, None)
            if state is RunState.RUNNING:
                if run.revision == 2:  # `first_start`, inline on the path of every run
                    self._started(run)
            elif state in _ENDS:
                self._ended(run)

    def _started(self, run: Run) -> None:
        trigger = run.trigger
        cells = self._runs_started.cells
        if trigger in cells:
            cells[trigger][0] += 1
        else:
            self._runs_started.cell(trigger, (trigger.value,))[0] += 1
        if run.started_at is not None:
            lags = self._fire_lag.cells
            lag = (
                lags[trigger] if trigger in lags else self._fire_lag.cell(trigger, (trigger.value,))
            )
            seconds = (run.started_at - run.triggered_at).total_seconds()
            self._fire_lag.observe(lag, seconds if seconds > 0.0 else 0.0)

    def _ended(self, run: Run) -> None:
        state, reason, error = run.state, run.stop_reason, run.error
        key = (state, reason, None if error is None else error.code)
        cells = self._runs_ended.cells
        if key in cells:
            cells[key][0] += 1
        else:
            labels = (state.value, "" if reason is None else reason.value)
            self._runs_ended.cell(key, (*labels, "" if error is None else error.code.value))[0] += 1
        if run.started_at is not None and run.completed_at is not None:
            # A series only for the states started runs end in.
            durations = self._run_duration.cells
            duration = (
                durations[state]
                if state in durations
                else self._run_duration.cell(state, (state.value,))
            )
            seconds = (run.completed_at - run.started_at).total_seconds()
            self._run_duration.observe(duration, seconds if seconds > 0.0 else 0.0)
        if run.missed is not None:
            self._missed[0] += run.missed.count

    # -- the registry's collector ----------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """The counts of the change feed, for a scrape (the other metrics are collectors
        of their own)."""
        with self._lock:
            families = [tally.family() for tally in self._tallies()]
        yield from families

    def describe(self) -> Iterator[Metric]:
        """The names `collect` gives, so that the registry refuses a second `Metrics`."""
        for tally in self._tallies():
            yield tally.describe()

    def _tallies(self) -> tuple[CounterTally | HistogramTally, ...]:
        tallies = self._runs_started, self._runs_ended, self._fire_lag, self._run_duration
        return (*tallies, self._missed_slots)

    # -- what the actors and the store tell --------------------------------------------

    def lease_changed(self, scope: Scope, held: bool) -> None:
        self.lease_held.labels(scope.project, scope.directory).set(1 if held else 0)
        change = "acquired" if held else "lost"
        self.lease_changes.labels(scope.project, scope.directory, change).inc()

    def commands_in_hand(self, count: int) -> None:
        self.inbox_depth.set(count)

    def committed(self, seconds: float, operations: int) -> None:
        """The store's commit observer (called in its writer thread)."""
        self.commit_seconds.observe(seconds)
        self.commit_operations.observe(operations)

    # -- read at scrape time -------------------------------------------------------------

    def _awaiting_count(self) -> float:
        with self._lock:
            return float(len(self._awaiting))

    def _oldest_age(self) -> float:
        with self._lock:
            asked = min(self._awaiting.values(), default=None)
        if asked is None:
            return 0.0
        return max((self._now() - asked).total_seconds(), 0.0)


def _utc_now() -> datetime:
    return datetime.now(UTC)
