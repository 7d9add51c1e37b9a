"""Prometheus metrics of one runtime (the `prometheus` extra: `prometheus-client`).

Transitions are counted from the store's change feed of this process's own commits,
so nothing is added to the actors' paths and a fleet's workers can be summed without
counting a run twice. Labels are bounded sets (trigger, state, stop reason, error
code, the scope of a lease): never a run or automation id.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from ..model import ErrorCode, Event, Run, RunState, RunUpdated, Scope, StopReason, Trigger

__all__ = ["CONTENT_TYPE", "Metrics", "first_start"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The media type of `Metrics.exposition()`."""

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_DURATION_BUCKETS = (
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
)  # fmt: skip
_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
_BATCH_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)


_EndKey = tuple[RunState, StopReason | None, ErrorCode | None]


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
        self._lock = threading.Lock()  # a scrape reads `_awaiting` from another thread
        self._started: dict[Trigger, tuple[Counter, Histogram]] = {}
        self._ends: dict[_EndKey, Counter] = {}
        self._durations: dict[RunState, Histogram] = {}
        """The labelled children met so far (`labels()` takes a lock and builds a key)."""
        self.runs_started = Counter(
            "automations_runs_started",
            "Runs whose executor started (their first `running`), by trigger.",
            ["trigger"],
            registry=registry,
        )
        self.runs_ended = Counter(
            "automations_runs_ended",
            "Runs that reached a terminal state, by state, stop reason and error code "
            "(empty when not applicable).",
            ["state", "stop_reason", "error_code"],
            registry=registry,
        )
        self.fire_lag = Histogram(
            "automations_fire_lag_seconds",
            "From a run's slot (or request, for a manual run) to its executor's start.",
            ["trigger"],
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.run_duration = Histogram(
            "automations_run_duration_seconds",
            "From a run's start to its end, waits on people included, by final state.",
            ["state"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.missed_slots = Counter(
            "automations_missed_slots",
            "Slots that passed unfired (each missed record counts its slots).",
            registry=registry,
        )
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
        if not isinstance(event, RunUpdated):
            return
        run = event.run
        state = run.state
        if state is RunState.SCHEDULED:
            return  # counted when it starts or ends
        if state is RunState.AWAITING_INPUT:
            if run.blocker is not None:
                with self._lock:
                    self._awaiting[run.id] = run.blocker.asked_at
            return
        if self._awaiting:
            with self._lock:
                self._awaiting.pop(run.id, None)
        if first_start(run):
            started = self._started.get(run.trigger)
            if started is None:
                trigger = str(run.trigger)
                started = self.runs_started.labels(trigger), self.fire_lag.labels(trigger)
                self._started[run.trigger] = started
            started[0].inc()
            if run.started_at is not None:
                lag = (run.started_at - run.triggered_at).total_seconds()
                started[1].observe(max(lag, 0.0))
        elif state.is_terminal:
            self._ended(run)

    def _ended(self, run: Run) -> None:
        code = None if run.error is None else run.error.code
        key = (run.state, run.stop_reason, code)
        ended = self._ends.get(key)
        if ended is None:
            reason = "" if run.stop_reason is None else str(run.stop_reason)
            labels = (str(run.state), reason, "" if code is None else str(code))
            ended = self._ends[key] = self.runs_ended.labels(*labels)
        ended.inc()
        if run.started_at is not None and run.completed_at is not None:
            seconds = (run.completed_at - run.started_at).total_seconds()
            duration = self._durations.get(run.state)
            if duration is None:  # a series only for the states started runs end in
                duration = self.run_duration.labels(str(run.state))
                self._durations[run.state] = duration
            duration.observe(max(seconds, 0.0))
        if run.missed is not None:
            self.missed_slots.inc(run.missed.count)

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
