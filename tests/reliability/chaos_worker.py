"""One process of the chaos run: `python -m tests.reliability.chaos_worker DB ROLE SEED`.

A `worker` serves the chaos scope and prints a line for each executor start; a
`client` runs, cancels and answers as fast as it is acknowledged, and prints each
acknowledgement. Both close cleanly on SIGTERM and then print `closed`:

    owner OWNER                         this process's owner id
    start RUN_ID TRIGGER SLOT_MS NOW_MS EXECUTOR RESUMED
                                        an executor started (worker)
    ack RUN_ID                          run_now returned (client)
    answered RUN_ID BLOCKER_ID          answer returned: stored durably (client)
    cancelled RUN_ID STATE              cancel returned (client)
    stuck RUN_ID                        cancel did not return within 20 s (client)
"""

from __future__ import annotations

import random
import signal
import sys
import time
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

import anyio
import anyio.abc

import automations as am
from automations.model import from_ms, to_ms

PROJECT, DIRECTORY = "chaos", "/chaos"
TICKS = 30
"""Interval automations on a 1 s interval."""
WINDOW = timedelta(seconds=2)
"""Their catch-up window."""
BLOCKER_TIMEOUT = timedelta(seconds=3.5)


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def _started(ctx: am.RunContext) -> None:
    run = ctx.run
    now = int(time.time() * 1000)
    slot, executor = to_ms(run.triggered_at), ctx.automation.executor
    say("start", run.id, run.trigger.value, slot, now, executor, int(ctx.resumed))


async def tick(ctx: am.RunContext) -> None:
    _started(ctx)


async def slow(ctx: am.RunContext) -> None:
    _started(ctx)
    await anyio.sleep(random.uniform(0.2, 1.5))


@am.resumable
async def asking(ctx: am.RunContext) -> str:
    _started(ctx)
    return await ctx.ask(am.Question("Go on?"))


def open_chaos_runtime(
    db: str, role: am.Role = "worker"
) -> AbstractAsyncContextManager[am.Runtime]:
    return am.open_runtime(
        db,
        executors={"tick": tick, "slow": slow, "asking": asking},
        min_interval=timedelta(seconds=1),
        project=PROJECT,
        directory=DIRECTORY,
        role=role,
        cancel_grace=1.0,
    )


def _new(
    title: str,
    schedule: am.Interval | am.Cron,
    executor: str,
    *,
    unattended: am.UnattendedBlockers = am.UnattendedBlockers.FAIL,
    blocker_timeout: timedelta | None = None,
) -> am.NewAutomation:
    return am.NewAutomation(
        title=title,
        prompt="chaos",
        timezone="UTC",
        schedule=schedule,
        executor=executor,
        overlap=am.Overlap.ALLOW,
        catchup_window=WINDOW,
        unattended_blockers=unattended,
        blocker_timeout=blocker_timeout,
    )


def chaos_automations(start_ms: int) -> list[am.NewAutomation]:
    """The chaos scope's automations, their slots from `start_ms` on."""
    start = from_ms(start_ms)
    every = am.Interval(every=timedelta(seconds=1), start=start)
    ticks = [_new(f"tick {i}", every, "tick") for i in range(TICKS)]
    manual = _new("slow", am.Cron("0 0 1 1 *"), "slow")
    every_two = am.Interval(every=timedelta(seconds=2), start=start)
    wait = am.UnattendedBlockers.WAIT
    ask = _new("asking", every_two, "asking", unattended=wait, blocker_timeout=BLOCKER_TIMEOUT)
    return [*ticks, manual, ask]


async def _until_terminated(
    scope: anyio.CancelScope, *, task_status: anyio.abc.TaskStatus[None]
) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            scope.cancel()
            return


async def _client(rt: am.Runtime, seed: int) -> None:
    chance = random.Random(seed)
    by_title = {a.title: a for a in await rt.list()}
    manual, ask = by_title["slow"], by_title["asking"]

    async def run_and_cancel() -> None:
        while True:
            try:
                run = await rt.run_now(manual.id)
            except am.AutomationError:
                await anyio.sleep(0.2)  # no worker serves the scope this instant
                continue
            say("ack", run.id)
            if chance.random() < 0.3:
                await anyio.sleep(chance.uniform(0, 0.5))
                try:
                    with anyio.fail_after(20):
                        ended = await rt.cancel(run.id)
                except TimeoutError:
                    say("stuck", run.id)
                else:
                    say("cancelled", run.id, ended.state.value)

    async def answer(run: am.Run) -> None:
        assert run.blocker is not None
        await anyio.sleep(chance.uniform(0, 4.5))  # some answers come after the timeout
        try:
            await rt.answer(run.id, run.blocker.id, "yes")
        except am.AutomationError:
            return  # timed out, or answered by nobody else: no promise was made
        say("answered", run.id, run.blocker.id)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_and_cancel)
        async with rt.events(await rt.last_event_seq()) as events:
            async for event in events:
                if not isinstance(event, am.RunUpdated) or event.run.blocker is None:
                    continue
                if event.run.automation_id == ask.id and chance.random() < 0.8:
                    tg.start_soon(answer, event.run)


async def main(db: str, role: str, seed: int) -> None:
    async with open_chaos_runtime(db, "client" if role == "client" else "worker") as rt:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                await tg.start(_until_terminated, scope)
                say("owner", rt._services.owner)  # from now on SIGTERM closes it cleanly
                if role == "client":
                    await _client(rt, seed)
                else:
                    await anyio.sleep_forever()
    say("closed")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
