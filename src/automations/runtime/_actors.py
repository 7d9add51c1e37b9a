"""Actors run in a group that supervises them.

An actor handles one message at a time, so its state needs no locks. A group starts
actors in its task group; an actor that crashes (an exception escapes `handle`) is
restarted on the same mailbox, keeping its queued messages, unless it crashed more
than `max_restarts` times within `within` seconds, in which case the failure
escalates and takes the group down. A *virtual* actor stops by itself when it is idle
and its mailbox is empty, once it has settled what it left in flight; the last check
and the removal happen without an await between them, so no message can slip into a
mailbox nobody reads.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from ._mailbox import ActorRef

__all__ = ["Actor", "ActorGroup", "RestartIntensityExceeded"]

M = TypeVar("M")
M_contra = TypeVar("M_contra", contravariant=True)

log = logging.getLogger("automations.runtime")

_FAIRNESS = 64


class Actor(Protocol[M_contra]):
    async def on_start(self) -> None:
        """Load state before the first message."""
        ...

    async def handle(self, message: M_contra) -> None:
        """Handle one message; an exception here is a crash."""
        ...

    def on_crash(self, message: M_contra, error: BaseException) -> None:
        """Tell whoever waits on `message` that it failed."""
        ...

    def idle(self) -> bool:
        """True when the actor may stop once its mailbox is empty (virtual actors)."""
        ...

    async def settle(self) -> None:
        """Before an idle actor stops: finish what it started without waiting (writes
        in flight), so that its next activation finds it done."""
        ...


class RestartIntensityExceeded(Exception):
    """An actor crashed too often; its supervisor gives up and escalates."""


class _Restarts:
    __slots__ = ("_limit", "_times", "_within")

    def __init__(self, limit: int, within: float) -> None:
        self._limit = limit
        self._within = within
        self._times: deque[float] | None = None
        """Made at the first crash: most actors never crash, and many are alive."""

    def allow(self) -> bool:
        now = time.monotonic()
        times = self._times = self._times if self._times is not None else deque()
        times.append(now)
        while times and now - times[0] > self._within:
            times.popleft()
        return len(times) <= self._limit


class ActorGroup(Generic[M]):
    """Starts, supervises and stops actors of one kind in a task group."""

    def __init__(self, task_group: TaskGroup, *, max_restarts: int = 5, within: float = 10.0):
        self._task_group = task_group
        self._max_restarts = max_restarts
        self._within = within
        self._running: set[ActorRef[M]] = set()
        self._stopped = anyio.Event()
        self._closing = False

    def spawn(
        self,
        ref: ActorRef[M],
        factory: Callable[[], Actor[M]],
        on_exit: Callable[[ActorRef[M]], None],
    ) -> None:
        """Start an actor for `ref`; `on_exit(ref)` runs when it stops, in the same step."""
        self._running.add(ref)
        self._task_group.start_soon(self._supervise, ref, factory, on_exit, name=ref.name)

    async def _supervise(
        self,
        ref: ActorRef[M],
        factory: Callable[[], Actor[M]],
        on_exit: Callable[[ActorRef[M]], None],
    ) -> None:
        restarts = _Restarts(self._max_restarts, self._within)
        try:
            while True:
                try:
                    await self._serve(factory(), ref)
                    return
                except Exception as exc:
                    if not restarts.allow():
                        raise RestartIntensityExceeded(
                            f"actor {ref.name} crashed more than {self._max_restarts} times "
                            f"within {self._within} s; last error: {exc!r}"
                        ) from exc
                    log.exception("actor %s crashed; restarting it", ref.name)
        finally:
            self._running.discard(ref)
            ref.mailbox.discard()
            on_exit(ref)
            if self._closing and not self._running:
                self._stopped.set()

    async def _serve(self, actor: Actor[M], ref: ActorRef[M]) -> None:
        await actor.on_start()
        handled = 0
        while True:
            if actor.idle() and ref.mailbox.empty():
                await actor.settle()  # a message may arrive meanwhile: look again
                if actor.idle() and ref.mailbox.empty():
                    ref.mailbox.close()
                    return
            # Every `_FAIRNESS` messages the actor yields, so a busy mailbox cannot starve
            # others; queued ones are taken without a scheduling round (not through
            # `get_nowait`'s WouldBlock when empty: it would live while we wait).
            if handled and not handled % _FAIRNESS:
                await anyio.lowlevel.checkpoint()
            mailbox = ref.mailbox
            try:
                message = await mailbox.get() if mailbox.empty() else mailbox.get_nowait()
            except anyio.EndOfStream:
                return
            handled += 1
            try:
                await actor.handle(message)
            except Exception as exc:
                actor.on_crash(message, exc)
                raise
            del message  # not kept while the actor waits for the next one

    async def stop(self, grace: float) -> None:
        """Close every mailbox, give actors `grace` seconds to drain, then cancel them."""
        self._closing = True
        for ref in list(self._running):
            ref.mailbox.close()
        if self._running:
            with anyio.move_on_after(grace):
                await self._stopped.wait()
        if self._running:
            self._task_group.cancel_scope.cancel()

    @property
    def running(self) -> int:
        return len(self._running)
