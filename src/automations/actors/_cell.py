"""A fleet worker's cell: one scope's supervisor, competing for the scope's lease while
the plan gives the worker that scope.

When the plan takes the scope away the cell lets the lease go, and the runs recorded
for a slot still to come go with it. The runs that began here go on here to their
end: the cell lives on without the lease until none is left, then closes. A handover
stops no run. If the plan gives the scope back meanwhile, the same cell competes
again, so a process never has two cells of one scope (two inboxes would take the same
command).
"""

from __future__ import annotations

import contextlib

import anyio
from anyio.abc import TaskStatus

from ..model import AutomationError, Scope
from ._supervisor import Supervisor

__all__ = ["Cell"]

_LOOK_AGAIN_SECONDS = 2.0
"""How often a cell left with adoptions only looks whether they moved on."""


class Cell:
    """What the fleet asks of one scope's cell: to lead (`want`) or to close."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.wanted = True
        """Whether the plan gives this worker the scope: compete for its lease."""
        self.closing = False
        """Close now, whatever goes on (the process closes), or it is closing."""
        self._changed = anyio.Event()

    def want(self, wanted: bool) -> None:
        if wanted != self.wanted:
            self.wanted = wanted
            self._changed.set()

    def close(self) -> None:
        self.closing = True
        self._changed.set()

    def _run_ended(self) -> None:
        if not self.wanted:
            self._changed.set()

    async def _next_change(self) -> None:
        await self._changed.wait()
        self._changed = anyio.Event()

    async def serve(
        self, supervisor: Supervisor, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Compete for the lease while wanted; without the lease, stay while runs go on
        here. Returns once closing, or not wanted and idle. Started once the first
        attempt at the lease is decided."""
        compete = supervisor.compete
        assert compete is not None, "a fleet's cell is opened with its lease to compete for"
        supervisor.on_run_ended = self._run_ended
        while not self.closing:
            if self.wanted:
                async with anyio.create_task_group() as term:
                    name = f"scheduler-lease:{self.scope.project}"
                    await term.start(compete, name=name)
                    task_status.started()
                    task_status = anyio.TASK_STATUS_IGNORED
                    while self.wanted and not self.closing:
                        await self._next_change()
                    term.cancel_scope.cancel()  # the lease goes, and the runs not begun
            elif supervisor.idle:
                return
            elif supervisor.runs:
                await self._next_change()
            else:  # only adoptions left: some may have moved on, unseen by the actor
                with contextlib.suppress(AutomationError):  # storage trouble: later
                    await supervisor.forget_stale_adoptions()
                if supervisor.idle:
                    return
                with anyio.move_on_after(_LOOK_AGAIN_SECONDS):  # nothing tells of them
                    await self._next_change()
        task_status.started()
