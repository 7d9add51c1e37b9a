"""A fleet worker's cell: one shard (`_shard.py`), competing for the shard's lease while
the plan gives the worker that shard.

When the plan takes the shard away the cell lets the lease go, and the runs recorded
for a slot still to come go with it. The runs that began here go on here to their
end: the cell lives on without the lease until none is left, then closes. A handover
stops no run. If the plan gives the shard back meanwhile, the same cell competes
again, so a process never has two cells of one shard (two inboxes of a scope would
take the same command).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import anyio
from anyio.abc import TaskStatus

from ..model import AutomationError

__all__ = ["Cell", "Served"]

_LOOK_AGAIN_SECONDS = 2.0
"""How often a cell left with adoptions only looks whether they moved on."""


class Served(Protocol):
    """What a cell serves: its lease to compete for, and the runs going on under it."""

    on_run_ended: Callable[[], None] | None

    @property
    def compete(self) -> Callable[..., Coroutine[Any, Any, None]]: ...

    @property
    def runs(self) -> int: ...

    @property
    def idle(self) -> bool: ...

    async def forget_stale_adoptions(self) -> None: ...


class Cell:
    """What the fleet asks of one shard's cell: to lead (`want`) or to close."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.wanted = True
        """Whether the plan gives this worker the shard: compete for its lease."""
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
        self, served: Served, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Compete for the lease while wanted; without the lease, stay while runs go on
        here. Returns once closing, or not wanted and idle. Started once the first
        attempt at the lease is decided."""
        served.on_run_ended = self._run_ended
        while not self.closing:
            if self.wanted:
                async with anyio.create_task_group() as term:
                    await term.start(served.compete, name=f"lease:{self.name}")
                    task_status.started()
                    task_status = anyio.TASK_STATUS_IGNORED
                    while self.wanted and not self.closing:
                        await self._next_change()
                    term.cancel_scope.cancel()  # the lease goes, and the runs not begun
            elif served.idle:
                return
            elif served.runs:
                await self._next_change()
            else:  # only adoptions left: some may have moved on, unseen by the actor
                with contextlib.suppress(AutomationError):  # storage trouble: later
                    await served.forget_stale_adoptions()
                if served.idle:
                    return
                with anyio.move_on_after(_LOOK_AGAIN_SECONDS):  # nothing tells of them
                    await self._next_change()
        task_status.started()
