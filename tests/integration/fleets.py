"""Helpers of the fleet tests (`test_fleet.py`, `test_back_pressure.py`): runtimes on
one store and clock, and waiting for the live workers to lead the scopes as wanted.
Their heartbeats are quick with the `quick_heartbeats` fixture (conftest)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial

import anyio

from automations.api import Runtime, open_runtime
from automations.model import Scope, Worker
from automations.testing import ManualClock

from .conftest import noop

__all__ = ["Opener", "each_led_once", "led", "opener", "until_workers"]

Opener = Callable[..., AbstractAsyncContextManager[Runtime]]


def opener(location: str, clock: ManualClock, home: Scope) -> Opener:
    """`opened(scope=home, **options)`: a runtime of `scope` on the test's store and
    clock (a fleet worker with `scopes="all"`; a client with `role="client"`)."""

    @asynccontextmanager
    async def opened(scope: Scope = home, **options: object) -> AsyncIterator[Runtime]:
        executors = options.pop("executors", {"default": noop})
        async with open_runtime(
            location,
            executors=executors,  # type: ignore[arg-type]
            project=scope.project,
            directory=scope.directory,
            clock=clock,
            cancel_grace=2.0,
            **options,  # type: ignore[arg-type]
        ) as rt:
            yield rt

    return opened


async def until_workers(
    rt: Runtime, check: Callable[[Sequence[Worker]], bool], *beating: Runtime
) -> Sequence[Worker]:
    """The live workers once they satisfy `check`, read again once each of `beating`
    has beaten since the last read began (a beat during the read is not missed)."""
    presences = [worker._supervisor.presence for worker in beating]
    with anyio.fail_after(15):
        while True:
            seen = [(presence, presence.beats) for presence in presences if presence]
            if check(found := await rt.workers()):
                return found
            async with anyio.create_task_group() as beats:
                for presence, beaten in seen:
                    beats.start_soon(partial(presence.next_beat, after=beaten))


def led(workers: Sequence[Worker]) -> Counter[Scope]:
    return Counter(scope for w in workers for scope in w.scopes)


def each_led_once(workers: Sequence[Worker], scopes: Sequence[Scope]) -> bool:
    return led(workers) == Counter(scopes)
