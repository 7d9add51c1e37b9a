"""The task pool: jobs reuse tasks, yet each job behaves as if it had its own."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref

import anyio
import pytest

from automations.runtime import TaskPool

pytestmark = pytest.mark.anyio

tag: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="unset")


async def test_jobs_one_after_another_share_one_task() -> None:
    done: list[int] = []
    async with anyio.create_task_group() as tg:
        with TaskPool(tg, name="test") as pool:
            for i in range(5):
                finished = anyio.Event()

                async def job(i: int = i, finished: anyio.Event = finished) -> None:
                    done.append(i)
                    finished.set()

                pool.start_soon(job)
                await finished.wait()
                await anyio.wait_all_tasks_blocked()
            assert pool.tasks == 1
    assert done == [0, 1, 2, 3, 4]
    assert pool.tasks == 0  # closing the pool let the idle task end


class _Payload:
    """Something a job is handed, which must not outlive it."""


async def test_an_idle_task_keeps_nothing_of_its_last_job() -> None:
    async with anyio.create_task_group() as tg:
        with TaskPool(tg, name="test") as pool:
            payload = _Payload()
            gone = weakref.ref(payload)
            finished = anyio.Event()

            async def job(payload: _Payload) -> None:
                finished.set()

            pool.start_soon(job, payload)
            await finished.wait()
            await anyio.wait_all_tasks_blocked()  # the task is idle, waiting for a job
            del payload
            gc.collect()
            assert gone() is None
            assert pool.tasks == 1


async def test_a_context_variable_set_by_one_job_is_not_seen_by_the_next() -> None:
    seen: list[str] = []
    tag.set("caller")
    async with anyio.create_task_group() as tg:
        with TaskPool(tg, name="test") as pool:
            first_done = anyio.Event()

            async def first() -> None:
                seen.append(tag.get())
                tag.set("leaked")
                await anyio.lowlevel.checkpoint()  # a step after the set, still in context
                seen.append(tag.get())
                first_done.set()

            async def second() -> None:
                seen.append(tag.get())

            pool.start_soon(first)
            await first_done.wait()
            await anyio.wait_all_tasks_blocked()
            pool.start_soon(second)
    assert pool.tasks == 0
    assert seen == ["caller", "leaked", "caller"]
    assert tag.get() == "caller"


async def test_jobs_at_once_grow_the_pool_and_it_shrinks_to_keep_idle() -> None:
    release = anyio.Event()
    started = 0
    async with anyio.create_task_group() as tg:
        with TaskPool(tg, name="test", keep_idle=3) as pool:

            async def job() -> None:
                nonlocal started
                started += 1
                await release.wait()

            for _ in range(10):
                pool.start_soon(job)
            await anyio.wait_all_tasks_blocked()
            assert (started, pool.tasks) == (10, 10)
            release.set()
            await anyio.wait_all_tasks_blocked()
            assert pool.tasks == 3


async def test_cancelling_the_group_cancels_a_running_job() -> None:
    cancelled = anyio.Event()
    async with anyio.create_task_group() as tg:
        with TaskPool(tg, name="test") as pool:

            async def job() -> None:
                try:
                    await anyio.sleep_forever()
                finally:
                    cancelled.set()

            pool.start_soon(job)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert cancelled.is_set()


async def test_a_job_may_use_cancel_scopes_of_its_own() -> None:
    outcome: list[str] = []
    async with anyio.create_task_group() as tg:
        with TaskPool(tg, name="test") as pool:

            async def job() -> None:
                with anyio.move_on_after(0) as scope:
                    await anyio.sleep_forever()
                outcome.append("moved on" if scope.cancelled_caught else "not cancelled")
                try:
                    raise ValueError("caught by the job")
                except ValueError:
                    await anyio.lowlevel.checkpoint()
                outcome.append("went on")

            pool.start_soon(job)
    assert outcome == ["moved on", "went on"]


async def test_an_error_escaping_a_job_reaches_the_task_group() -> None:
    async def job() -> None:
        await anyio.lowlevel.checkpoint()
        raise RuntimeError("job failed")

    async def run_one_failing_job() -> TaskPool:
        async with anyio.create_task_group() as tg:
            with TaskPool(tg, name="test") as pool:
                pool.start_soon(job)
        return pool  # pragma: no cover - the job's error escapes first

    with pytest.raises(ExceptionGroup) as caught:
        await run_one_failing_job()
    assert caught.group_contains(RuntimeError, match="job failed")


async def test_a_closed_pool_refuses_jobs() -> None:
    async with anyio.create_task_group() as tg:
        pool = TaskPool(tg, name="test")
        pool.close()

        async def job() -> None:
            raise AssertionError("never started")

        with pytest.raises(RuntimeError, match="closed"):
            pool.start_soon(job)


async def test_a_cancellation_a_job_swallowed_does_not_reach_the_next_job(
    anyio_backend: str,
) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("asyncio counts cancellation requests per task; trio has no such count")
    outcomes: list[str] = []
    async with anyio.create_task_group() as tg:
        with TaskPool(tg, name="test") as pool:
            swallowed = anyio.Event()

            async def swallow() -> None:
                task = asyncio.current_task()
                assert task is not None
                task.cancel()  # its own task, then it catches it without uncancel()
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError:
                    outcomes.append("swallowed")
                swallowed.set()

            pool.start_soon(swallow)
            await swallowed.wait()
            await anyio.wait_all_tasks_blocked()
            failed = anyio.Event()

            async def fail_in_a_task_group() -> None:
                async def boom() -> None:
                    raise ValueError("boom")

                task = asyncio.current_task()
                assert task is not None
                outcomes.append(f"cancelling {task.cancelling()}")  # as on a task of its own
                try:
                    async with asyncio.TaskGroup() as group:
                        group.create_task(boom())
                        await asyncio.sleep(1)
                except BaseException as exc:  # the child's error, not a cancellation
                    outcomes.append(type(exc).__name__)
                finally:
                    failed.set()

            pool.start_soon(fail_in_a_task_group)
            await failed.wait()
            assert pool.tasks == 1  # both jobs ran on the same task
    assert outcomes == ["swallowed", "cancelling 0", "ExceptionGroup"]
