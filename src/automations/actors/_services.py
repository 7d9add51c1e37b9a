"""What every actor of one runtime shares: store, clock, scope, executors, hub."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..model import Catalog, Scope, as_instant
from ..persistence import StorePort, lease_name
from ..runtime import Clock
from ._hub import EventHub
from ._observer import Observer

if TYPE_CHECKING:
    from ._context import RunContext

__all__ = ["Executor", "Role", "Services", "is_resumable", "resumable"]

Executor = Callable[["RunContext"], Awaitable[Any]]
"""An async function that does the work of a run; returns RunOutcome, str or None."""

Role = Literal["worker", "client"]

E = TypeVar("E", bound=Executor)

_RESUMABLE = "__automations_resumable__"


def resumable(executor: E) -> E:
    """Declare that `executor` can go on from its last `ctx.checkpoint()` (DESIGN 6.7).

    When the process running one of its runs dies while the run waits on a blocker,
    the next lease holder calls it again with `ctx.resumed` set and
    `ctx.checkpoint_data` holding the checkpoint; asking the same question again
    reopens the blocker, and returns its answer at once if one was stored meanwhile.
    """
    setattr(executor, _RESUMABLE, True)
    return executor


def is_resumable(executor: Executor) -> bool:
    return getattr(executor, _RESUMABLE, False) is True


@dataclass(frozen=True)
class Services:
    store: StorePort
    clock: Clock
    scope: Scope
    owner: str
    """This process's identity on the runs it executes."""
    executors: Mapping[str, Executor]
    hub: EventHub
    cancel_grace: float
    """Seconds an executor has to finish after it is cancelled."""
    min_interval: timedelta
    catalog: Catalog | None
    role: Role = "worker"
    retention: timedelta | None = None
    """Runs that ended longer ago are forgotten by the lease holder (DESIGN 7)."""
    max_scheduled_runs: int | None = None
    """Scheduled runs going at once in this process; None is no bound."""
    observer: Observer | None = None
    """Metrics and traces (`automations.telemetry`); None when nobody observes."""

    @property
    def lease(self) -> str:
        """The name of the lease this runtime leads its scope under."""
        return lease_name(self.scope)

    @property
    def resumable_executors(self) -> frozenset[str]:
        return frozenset(name for name, fn in self.executors.items() if is_resumable(fn))

    def now(self) -> datetime:
        """The clock's time as the model's instant type, converted once."""
        return as_instant(self.clock.now())
