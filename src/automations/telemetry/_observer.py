"""`Telemetry`: metrics and traces together, as the actors' `Observer` and as the
store's change listener, attached to one runtime by `open_runtime`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..actors import RunTrace
from ..model import Automation, Event, Run, RunState, RunUpdated, Scope
from ..persistence import ChangeListener, StorePort
from ..runtime import Clock

if TYPE_CHECKING:
    from ._metrics import Metrics
    from ._tracing import Tracing

__all__ = ["Telemetry"]

log = logging.getLogger("automations.telemetry")


class Telemetry:
    """What a runtime reports to: `metrics`, `tracing`, either or both."""

    __slots__ = ("metrics", "tracing")

    def __init__(self, metrics: Metrics | None, tracing: Tracing | None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def attach(self, store: StorePort, clock: Clock) -> None:
        """Listen to `store`'s commits; age the waits on `clock`."""
        store.add_commit_listener(self._listener())
        if self.metrics is not None:
            store.writer_stats.observer = self.metrics.committed
            self.metrics.use_clock(clock.now)

    def detach(self, store: StorePort) -> None:
        """Stop listening (the runtime closes); end the spans still open."""
        store.remove_commit_listener(self._listener())
        if self.metrics is not None:
            store.writer_stats.observer = None
        if self.tracing is not None:
            self.tracing.close()

    def _listener(self) -> ChangeListener:
        """One of them alone listens itself; both, through `on_commit`."""
        if self.tracing is None and self.metrics is not None:
            return self.metrics.on_commit
        if self.metrics is None and self.tracing is not None:
            return self.tracing.on_commit
        return self.on_commit

    def on_commit(self, scope: Scope, event: Event) -> None:
        """The store's change listener, for both: one call per event on the path of
        every run, not one each."""
        if not isinstance(event, RunUpdated):
            return
        run = event.run
        if self.metrics is not None and run.state is not RunState.SCHEDULED:
            self.metrics.count(run)
        if self.tracing is not None and self.tracing.live:
            spans = self.tracing.live.get(run.id)
            if spans is not None:
                spans.transition(run)

    # -- the actors' Observer --------------------------------------------------------

    def run_executing(self, run: Run, automation: Automation) -> RunTrace | None:
        if self.tracing is None:
            return None
        try:  # the tracer provider is the application's code: it must not stop a run
            return self.tracing.run_executing(run, automation)
        except Exception:
            log.exception("could not open the span of run %s; it runs untraced", run.id)
            return None

    def lease_changed(self, scope: Scope, held: bool) -> None:
        if self.metrics is not None:
            self.metrics.lease_changed(scope, held)

    def commands_in_hand(self, count: int) -> None:
        if self.metrics is not None:
            self.metrics.commands_in_hand(count)
