"""What the actors tell an observer (metrics, traces) that the change feed cannot:
the executor's call, in the executor's own task, so that its spans nest in the run's;
the lease won and lost; the commands in hand. Transitions are not among them: an
observer counts those from the store's change feed, off the actors' paths.
"""

from __future__ import annotations

from typing import Protocol

from ..model import Automation, Run, Scope

__all__ = ["Observer", "RunTrace"]


class RunTrace(Protocol):
    """One executor call of a run, as an observer follows it. Each method is called in
    the executor's task (its context variables are the executor's)."""

    def enter(self) -> None:
        """The executor is about to be called."""
        ...

    def resumed(self) -> None:
        """A wait on a person is over (answered or not): what the executor does next
        belongs to the run's newer span."""
        ...

    def exit(self) -> None:
        """The executor returned, raised or was cancelled."""
        ...


class Observer(Protocol):
    """Told by the actors what only they know; none of its methods may block or raise."""

    def run_executing(self, run: Run, automation: Automation) -> RunTrace | None:
        """The executor of `run` (state `running`) is about to be called; None when
        nothing follows the call."""
        ...

    def lease_changed(self, scope: Scope, held: bool) -> None:
        """This process took (`held`) or lost the scheduler lease of `scope`."""
        ...

    def commands_in_hand(self, count: int) -> None:
        """How many commands from other processes this one is handling now."""
        ...
