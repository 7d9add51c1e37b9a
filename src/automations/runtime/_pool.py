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

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup

__all__ = ["TaskPool"]

T = TypeVar("T")

_Job = tuple[Callable[..., Coroutine[Any, Any, None]], tuple[Any, ...], contextvars.Context]


class _Worker:
    """A pooled task's slot: the job handed to it and the event that wakes it."""

    __slots__ = ("job", "wake")

    def __init__(self, job: _Job | None) -> None:
        self.job = job
        self.wake: anyio.Event | None = None


class TaskPool:
    """Runs jobs on tasks of `task_group`, starting a task only when none is idle.

    A task that finishes a job waits for the next one, unless `keep_idle` tasks are
    already waiting, in which case it ends: the pool grows with the number of jobs
    running at once and shrinks back when they are done. Use it as a context manager:
    leaving it ends the idle tasks and refuses new jobs.
    """

    def __init__(self, task_group: TaskGroup, *, name: str, keep_idle: int = 64) -> None:
        self._task_group = task_group
        self._name = name
        self._keep_idle = keep_idle
        self._idle: list[_Worker] = []
        self._closed = False
        self.tasks = 0

    def __enter__(self) -> TaskPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Accept no more jobs and let the idle tasks end."""
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            assert worker.wake is not None
            worker.wake.set()  # with no job: the task ends

    def start_soon(
        self,
        function: Callable[..., Coroutine[Any, Any, None]],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> None:
        """Run `function(*args)` on a pooled task, in a copy of the current context, or
        in `context`: a job started from a callback passes a copy of the context of
        whoever asked for it, its own, as a copy is not shareable between jobs."""
        if self._closed:
            raise RuntimeError("the task pool is closed; it accepts no more jobs")
        job = (function, args, contextvars.copy_context() if context is None else context)
        if self._idle:
            worker = self._idle.pop()
            worker.job = job
            assert worker.wake is not None
            worker.wake.set()
        else:
            self.tasks += 1
            self._task_group.start_soon(self._serve, _Worker(job), name=self._name)

    async def _serve(self, worker: _Worker) -> None:
        task = _asyncio_task()
        # The backend's own Event class: `anyio.Event()` looks the backend up each time.
        new_event: Callable[[], anyio.Event] = type(anyio.Event())
        try:
            while (job := worker.job) is not None:
                worker.job = None
                await _run(job)
                job = None  # an idle task must not keep its last job's objects alive
                if task is not None:
                    _forget_cancel_requests(task)
                if self._closed or len(self._idle) >= self._keep_idle:
                    return
                worker.wake = wake = new_event()
                self._idle.append(worker)
                try:
                    await wake.wait()
                except BaseException:
                    handed, worker.job = worker.job, None
                    if handed is not None:  # handed over as the task was cancelled:
                        await _run(handed)  # the job meets the cancellation itself
                    elif worker in self._idle:
                        self._idle.remove(worker)
                    raise
        finally:
            self.tasks -= 1


def _asyncio_task() -> asyncio.Task[Any] | None:
    """The current task when the loop is asyncio's; None on trio."""
    try:
        return asyncio.current_task()
    except RuntimeError:  # no asyncio loop running in this thread
        return None


def _forget_cancel_requests(task: asyncio.Task[Any]) -> None:
    """asyncio counts the cancel requests of a task, and a job that caught one without
    `uncancel()` leaves the count raised; the next job starts at zero, as on a task of
    its own. A cancellation still under way is not lost: anyio delivers it again at the
    next await, and asyncio keeps a pending one whatever the count."""
    while task.cancelling():
        task.uncancel()


async def _run(job: _Job) -> None:
    function, args, context = job
    await _InContext(context.run(function, *args), context)


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
