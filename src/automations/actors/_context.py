"""What an executor sees of its run: steps, blockers, cost, checkpoints."""

from __future__ import annotations

from typing import Any, Protocol, overload

from ..model import Automation, Permission, Question, Run

__all__ = ["RunContext", "RunControl"]


class RunControl(Protocol):
    """What a run offers its executor (`RunControls` implements it)."""

    @property
    def resumed(self) -> bool: ...

    @property
    def checkpoint_data(self) -> Any: ...

    @property
    def steps(self) -> int: ...

    async def step(self) -> None: ...

    async def ask(self, request: Question | Permission) -> str | bool: ...

    def report_cost(self, amount: float) -> None: ...

    async def checkpoint(self, data: Any) -> None: ...


class RunContext:
    """Handed to the executor; every method reports to the run's actor.

    `run` is the run as it started (state `running`) and `automation` its definition
    at that moment; `attended` is True for runs a person started (run-now). A run of
    a `resumable` executor taken over after its process died has `resumed` set and
    its last checkpoint in `checkpoint_data`.
    """

    __slots__ = ("_actor", "attended", "automation", "run")

    def __init__(self, actor: RunControl, run: Run, automation: Automation) -> None:
        self._actor = actor
        self.run = run
        self.automation = automation
        self.attended = run.attended

    @property
    def resumed(self) -> bool:
        """True when this call goes on with a run another process started."""
        return self._actor.resumed

    @property
    def checkpoint_data(self) -> Any:
        """The last checkpoint saved by the run, decoded from JSON; None if there is none."""
        return self._actor.checkpoint_data

    @property
    def steps(self) -> int:
        """Steps taken so far."""
        return self._actor.steps

    async def step(self) -> None:
        """Count one step against the step cap; raises `StepCapExceeded` past it."""
        await self._actor.step()

    @overload
    async def ask(self, request: Question) -> str: ...

    @overload
    async def ask(self, request: Permission) -> bool: ...

    async def ask(self, request: Question | Permission) -> str | bool:
        """Pause the run until a person answers: a `str` for a question, a `bool` for a
        permission. Unattended runs follow their automation's `unattended_blockers`."""
        return await self._actor.ask(request)

    def report_cost(self, amount: float) -> None:
        """Add `amount` to the run's cost."""
        self._actor.report_cost(amount)

    async def checkpoint(self, data: Any) -> None:
        """Durably keep `data` (JSON-serialisable) as the run's latest checkpoint."""
        await self._actor.checkpoint(data)
