"""What every actor of one runtime shares: store, clock, scope, executors, hub."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..model import Catalog, Scope, as_instant
from ..persistence import Store
from ..runtime import Clock
from ._hub import EventHub

if TYPE_CHECKING:
    from ._context import RunContext

__all__ = ["Executor", "Services"]

Executor = Callable[["RunContext"], Awaitable[Any]]
"""An async function that does the work of a run; returns RunOutcome, str or None."""


@dataclass(frozen=True)
class Services:
    store: Store
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

    def now(self) -> datetime:
        """The clock's time as the model's instant type, converted once."""
        return as_instant(self.clock.now())
