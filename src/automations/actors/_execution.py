"""One call of a run's executor, and the helpers it needs while it runs.

The executor runs in a cancel scope of its own. Beside it may run the `max_duration`
watchdog and, once the run's end is decided while it runs, a grace watcher that ends
the run without an executor that ignores cancellation past the grace. Each helper
runs in a cancel scope that is cancelled as the executor returns, so none outlives
it. (A task group per run would do the same, but its cyclic garbage costs the
collector's slow passes in the middle of busy slots: the interval benchmark's p99 went
from 75 to 150-280 ms.)
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

import anyio

from ..model import TRACEBACK_LIMIT, ErrorCode, RunOutcome, StepCapExceeded
from ..runtime import Clock
from ._context import RunContext
from ._observer import Observer, RunTrace
from ._retries import retry_wish
from ._run_ledger import RunLedger
from ._run_phase import Decision, Fail, Succeed
from ._services import Executor

__all__ = ["Execution", "Spawn", "unregistered"]

Spawn = Callable[[Callable[[], Coroutine[Any, Any, None]], str], None]


class Execution:
    """Calls the executor once; `interrupt()` cancels it, with a grace."""

    __slots__ = (
        "_clock",
        "_grace",
        "_helpers",
        "_name",
        "_observer",
        "_on_grace",
        "_scope",
        "_spawn",
    )

    def __init__(
        self,
        name: str,
        spawn: Spawn,
        clock: Clock,
        grace: float,
        on_grace: Callable[[], Awaitable[None]],
        observer: Observer | None,
    ) -> None:
        """`on_grace()` is called once the grace has passed with the executor still
        running; `spawn` starts helper tasks (in the supervisor's run group); an
        `observer` follows the call (the run's span wraps it)."""
        self._observer = observer
        self._name = name
        self._spawn = spawn
        self._clock = clock
        self._grace = grace
        self._on_grace = on_grace
        self._scope: anyio.CancelScope | None = None
        self._helpers: list[anyio.CancelScope] | None = None  # made with the first

    async def call(
        self,
        executor: Executor,
        context: RunContext,
        ledger: RunLedger,
        deadline: datetime | None,
        on_timeout: Callable[[], None],
    ) -> Decision | None:
        """Call `executor`; the end it reached by itself, or None when it was
        interrupted (or hit its step cap, decided as it was hit)."""
        if deadline is not None:
            self._watch(deadline, on_timeout)
        ended: Decision | None = None
        observed: RunTrace | None = None
        try:
            observed = self._trace(context, ledger)
            with anyio.CancelScope() as scope:
                self._scope = scope
                try:
                    value = await executor(context)
                except StepCapExceeded:
                    pass
                except Exception as exc:
                    message = f"{type(exc).__name__}: {exc}"
                    trace = "".join(traceback.format_exception(exc))[-TRACEBACK_LIMIT:]
                    wish = retry_wish(exc)
                    ended = Fail.because(ErrorCode.EXECUTION_FAILED, message, trace, retry=wish)
                else:
                    ended = natural_end(value, ledger)
        finally:
            if observed is not None:
                ledger.trace = None
                observed.exit()
            self._scope = None  # nothing to cancel from here on
            helpers, self._helpers = self._helpers or (), None
            for helper in helpers:  # the watchdog and the grace end with the executor
                helper.cancel()
        return ended

    def _trace(self, context: RunContext, ledger: RunLedger) -> RunTrace | None:
        """Tell the observer the executor starts, in the executor's task."""
        if self._observer is None:
            return None
        trace = self._observer.run_executing(context.run, context.automation)
        if trace is not None:
            ledger.trace = trace  # so that a blocker's end reaches it
            trace.enter()
        return trace

    def detach(self) -> None:
        """The run is over: drop the callback into its actor."""
        self._on_grace = _nothing

    def interrupt(self) -> None:
        """Cancel the executor, and end the run without it if it ignores that past the
        grace; nothing when it is not running."""
        if self._scope is not None:
            self._scope.cancel()
            self._start_helper(self._wait_grace, f"run-grace:{self._name}")

    def _watch(self, deadline: datetime, on_timeout: Callable[[], None]) -> None:
        async def watch() -> None:
            await self._clock.sleep_until(deadline)
            on_timeout()

        self._start_helper(watch, f"run-timeout:{self._name}")

    async def _wait_grace(self) -> None:
        await self._clock.sleep(self._grace)
        if self._scope is not None:
            await self._on_grace()

    def _start_helper(self, function: Callable[[], Awaitable[None]], name: str) -> None:
        scope = anyio.CancelScope()
        if self._helpers is None:
            self._helpers = []
        self._helpers.append(scope)

        async def helper() -> None:
            with scope:
                await function()

        self._spawn(helper, name)


def natural_end(value: object, ledger: RunLedger) -> Decision:
    """The end an executor's return value means; a `RunOutcome`'s cost and session go
    to the run."""
    if value is None or isinstance(value, str):
        return Succeed(value)
    if isinstance(value, RunOutcome):
        if value.cost is not None:
            ledger.cost = value.cost
        if value.session_id is not None:
            ledger.session_id = value.session_id
        return Succeed(value.result)
    message = f"the executor returned {type(value).__name__}; return a RunOutcome, a str or None"
    return Fail.because(ErrorCode.EXECUTION_FAILED, message)


def unregistered(name: str) -> Fail:
    """The end of a run whose executor this runtime does not have."""
    message = (
        f"no executor named {name!r} is registered in this "
        "runtime; register it with open_runtime(executors={...}), or on the command line "
        "with serve --executor NAME=MODULE:FUNCTION"
    )
    return Fail.because(ErrorCode.EXECUTION_FAILED, message)


async def _nothing() -> None:
    pass
