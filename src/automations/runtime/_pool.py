"""A pool of reusable tasks: starting a job costs a message, not a task spawn.

Spawning a task through anyio costs ~45 µs (a task handle, a cancel scope, an event
and a wrapper coroutine); handing a job to a task that is already waiting costs a few.
A runtime starts one job per run, so at thousands of runs per second that difference
is a large part of the budget.

A job still behaves as if it had a task of its own where that is observable: it runs
in a copy of the context it was started from, so a context variable it sets is gone
for the next job on the same task, and the pool's tasks live in the caller's task
group, so cancelling that group cancels every job.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream

__all__ = ["TaskPool"]

T = TypeVar("T")

_Job = tuple[Callable[..., Coroutine[Any, Any, None]], tuple[Any, ...], contextvars.Context]


class TaskPool:
    """Runs jobs on tasks of `task_group`, starting a task only when none is idle.

    A task that finishes a job waits for the next one, unless `keep_idle` tasks are
    already waiting, in which case it ends: the pool grows with the number of jobs
    running at once and shrinks back when they are done. Use it as a context manager:
    leaving it lets the idle tasks end once the queued jobs have started.
    """

    def __init__(self, task_group: TaskGroup, *, name: str, keep_idle: int = 64) -> None:
        self._task_group = task_group
        self._name = name
        self._keep_idle = keep_idle
        self._send, self._receive = anyio.create_memory_object_stream[_Job](math.inf)
        self._idle = 0
        """Tasks waiting for a job, less the jobs queued for them."""
        self.tasks = 0

    def __enter__(self) -> TaskPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Accept no more jobs; tasks end when the queue is empty."""
        self._send.close()
        self._receive.close()

    def start_soon(self, function: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        """Run `function(*args)` on a pooled task, in a copy of the current context."""
        if self._idle == 0:
            receive = self._receive.clone()  # raises once the pool is closed
            self.tasks += 1
            self._idle += 1
            self._task_group.start_soon(self._serve, receive, name=self._name)
        self._send.send_nowait((function, args, contextvars.copy_context()))
        self._idle -= 1

    async def _serve(self, receive: MemoryObjectReceiveStream[_Job]) -> None:
        try:
            with receive:
                while True:
                    try:
                        function, args, context = receive.receive_nowait()
                    except anyio.WouldBlock:
                        try:
                            function, args, context = await receive.receive()
                        except anyio.EndOfStream:
                            return
                    except anyio.EndOfStream:
                        return
                    await _InContext(context.run(function, *args), context)
                    if self._idle >= self._keep_idle:
                        return
                    self._idle += 1
        finally:
            self.tasks -= 1


class _InContext:
    """Awaits a coroutine with every step of it run in `context`.

    This is what a task does for the coroutine it runs; doing it here lets one task
    run many jobs, each in a context of its own.
    """

    __slots__ = ("_context", "_coroutine")

    def __init__(self, coroutine: Coroutine[Any, Any, T], context: contextvars.Context) -> None:
        self._coroutine = coroutine
        self._context = context

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, run = self._coroutine, self._context.run
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                if error is None:
                    signal = run(coroutine.send, value)
                else:
                    signal = run(coroutine.throw, error)
            except StopIteration as stop:
                return stop.value
            finally:
                error = None  # never keep the exception (and its traceback) alive
            try:
                value = yield signal
            except GeneratorExit:
                run(coroutine.close)
                raise
            except BaseException as exc:  # cancellation included: the job decides
                error = exc
