"""RunActor: one run, from `scheduled` to its terminal state.

Every transition is durable before anything acts on it (the executor's start, the
next transition, the owner's `on_end`, an event), and the terminal state is *decided*
once, synchronously on the event loop: the first of the executor's natural end, a stop
request (cancel, supersede, shutdown), a step cap, an unanswerable blocker or a timeout
wins. That is what guarantees that once a cancel is accepted no `succeeded` can follow
it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

import anyio
import anyio.lowlevel
import msgspec

from ..model import (
    Automation,
    AutomationError,
    Blocker,
    BlockerRejected,
    DuplicateSlot,
    ErrorCode,
    LeaseLost,
    Permission,
    Question,
    Run,
    RunError,
    RunOutcome,
    RunState,
    StepCapExceeded,
    StopReason,
    StorageError,
    StoreClosed,
    UnattendedBlockers,
    WriterKeyBusy,
    advance,
    new_blocker_id,
    step_cap_error,
)
from ..persistence import CreateRun, PendingWrite, SaveCheckpoint, SaveRun
from ..runtime import Reply
from ._answers import Answers, decode_reply, describe
from ._context import RunContext
from ._finish import FinishLatch
from ._records import record_skipped
from ._services import Services

__all__ = ["RunActor"]

log = logging.getLogger("automations.actors")

_Outcome = tuple[RunState, dict[str, Any]]
_RETRY_FIRST = 0.25
_RETRY_MAX = 5.0
"""Seconds between attempts to record a run's end while storage fails."""


class RunActor:
    """Executes one run; its owner learns the end through `on_end`.

    A run is one task (`main`). While its executor runs, it may need
    helpers: the `max_duration` watchdog, and, once a stop is requested, a grace
    watcher that records the end without an executor that ignores cancellation past
    the grace. Each runs in a cancel scope that the run cancels as its executor
    returns, so no helper outlives it. (A task group per run would do the same, but
    its cyclic garbage costs the collector's slow passes in the middle of busy slots:
    the interval benchmark's p99 went from 75 to 150-280 ms.)
    """

    # Thousands are alive at once when a busy slot fires: slots keep each small.
    __slots__ = (
        "_adopted",
        "_answers",
        "_begun",
        "_claimed",
        "_deferred",
        "_epoch",
        "_executor",
        "_executor_scope",
        "_first",
        "_go",
        "_helpers",
        "_on_end",
        "_outcome",
        "_reopen",
        "_reply",
        "_services",
        "_session_id",
        "_shutdown",
        "_spawn",
        "_started",
        "_writer_key",
        "_writing",
        "_written",
        "automation",
        "checkpoint_data",
        "cost",
        "ended",
        "finished",
        "recorded",
        "released",
        "resumed",
        "run",
        "steps",
    )

    def __init__(
        self,
        services: Services,
        automation: Automation,
        run: Run,
        *,
        writer_key: str | None,
        reply: Reply[Run] | None,
        on_end: Callable[[RunActor], None],
        spawn: Callable[[Callable[[], Coroutine[Any, Any, None]], str], None],
        deferred: bool = False,
        claimed: bool = False,
        epoch: int | None = None,
        adopted: bool = False,
        reopen: Blocker | None = None,
    ) -> None:
        """A `deferred` run is recorded as scheduled without its writer key, and claims
        the key only when `start()` lets it run (buffered and superseding runs). A run
        `claimed` ahead of its slot is deferred too, until its owner `admit()`s it.

        A run `adopted` from a dead process is already `running` under this one;
        `reopen` is the blocker it waited on, which asking again reopens (a resumed
        run), None for one its process never started.
        """
        self._services = services
        self.automation = automation
        self.run = run
        self._writer_key = writer_key
        self._reply = reply
        self._on_end = on_end
        self._spawn = spawn
        self._helpers: list[anyio.CancelScope] | None = None
        """Cancel scopes of the helper tasks, while the executor runs."""
        self._deferred = deferred or claimed
        self._epoch = epoch
        self._reopen = reopen
        self._begun: tuple[Run, PendingWrite[int]] | None = None
        self._adopted = adopted
        self._claimed = claimed
        self.released = False
        """Let go unstarted as the process closes, still `scheduled` (see `release`)."""
        self.resumed = reopen is not None
        self._executor = services.executors.get(automation.executor)
        self.checkpoint_data: Any = None
        self._go: anyio.Event | None = anyio.Event() if self._deferred else None
        self.steps = run.steps  # an adopted run goes on counting
        self.cost: float | None = run.cost
        self._session_id = run.session_id
        self._outcome: _Outcome | None = None
        self._shutdown = False
        self._executor_scope: anyio.CancelScope | None = None
        self._writing = False
        self._written: anyio.Event | None = None
        self._answers = Answers()
        self.finished = FinishLatch(self._finished_now)
        self._first: PendingWrite[list[int]] | None = None
        self._started: Run | None = None
        self.recorded = False
        self.ended = False
        """The terminal transition is submitted: writes commit in submission order, so a
        run started after this moment is recorded after this one's end (overlap)."""

    @property
    def id(self) -> str:
        return self.run.id

    # -- requests from other actors (synchronous, on the event loop) -------------

    @property
    def stopping(self) -> bool:
        """Its end is decided; it will not start, or is being stopped."""
        return self._outcome is not None

    def start(self) -> None:
        """Let a deferred run (buffered, or waiting for superseded runs) begin."""
        if self._go is not None:
            self._go.set()

    def admit(self, writer_key: str | None, *, wait: bool) -> None:
        """Admit a run recorded ahead of its slot, now that the slot has come, holding
        `writer_key` once it runs. Unless it must `wait`, `running` is submitted here:
        the runs of one slot commit it together, and the run's task starts its executor
        once it is durable."""
        self._writer_key = writer_key
        self._claimed = False
        if wait:
            return
        if self._outcome is None and self._executor is not None:
            self._begun = begun = self._submit(RunState.RUNNING, {})
            begun[1].add_done_callback(lambda _: self.start())  # one wake-up, not two
        else:
            self.start()

    def request_stop(self, reason: StopReason, *, shutdown: bool = False) -> bool:
        """Stop the run with `reason`; False when its end was already decided."""
        accepted = self._decide(RunState.STOPPED, {"stop_reason": reason})
        if accepted:
            self._shutdown = shutdown
            self.start()
        return accepted

    def release(self) -> bool:
        """As the process closes, let a run that still waits for its slot go without
        an end: it stays `scheduled`, and the next lease holder starts it while its
        catch-up window is open, as it would a run of a process that died. A slot
        whose run was claimed just before a restart is fired, not cancelled. False
        when the run was admitted, or its end decided, already."""
        if not self._claimed or self._outcome is not None or self._go is None:
            return False
        self.released = True
        self._go.set()
        return True

    def deliver(self, blocker_id: str, reply: str | bool) -> None:
        """An answer, already stored durably; delivered to the waiting `ask` once."""
        if not self.finished.is_open:
            self._answers.deliver(blocker_id, reply)

    # -- the run's life -------------------------------------------------------------

    def submit_first_write(self) -> PendingWrite[list[int]] | None:
        """Submit the run's first write, `scheduled` (holding the writer key), without
        waiting; `main` is best started once it is done, so the run's task wakes once
        for it. None when there is nothing to write first (a run adopted running).

        When the executor can start at once, `running` is written in the same
        operation: the caller is answered and the executor starts once both are
        durable, and if either fails neither is recorded.
        """
        if self._adopted or self._first is not None:
            return self._first
        services, run = self._services, self.run
        revisions: tuple[Run, ...] = (run,)
        at: tuple[datetime, ...] = (run.triggered_at,)
        if self._executor is not None and not self._deferred:
            now = services.now()
            started = advance(run, RunState.RUNNING, at=now, session_id=self._session_id)
            self._started = started
            revisions, at = (run, started), (run.triggered_at, now)
        key = None if self._deferred else self._writer_key
        operation = CreateRun(services.scope, revisions, at, key, services.owner, self._epoch)
        self._first = services.store.submit(operation)
        return self._first

    async def main(self) -> None:
        try:
            executor = self._executor
            if self._adopted:
                if self.resumed:
                    await self._load_checkpoint()
                self.recorded = True
                await self._execute(executor)
            elif await self._schedule():
                if self._go is not None:
                    await self._go.wait()
                if not self.released:
                    await self._execute(executor)
        except AutomationError:
            # A storage failure or a lost race: whoever waited was told through the
            # reply; the runtime goes on serving. What stays active in the ledger is
            # reconciled by the next lease holder after this process ends.
            log.exception("run %s could not be recorded", self.id)
        except Exception:
            log.exception("run %s failed inside the runtime", self.id)
            raise
        finally:
            self.finished.job_returned()

    async def _load_checkpoint(self) -> None:
        data = await self._services.store.reader.checkpoint(self.id)
        if data is not None:
            self.checkpoint_data = msgspec.json.decode(data)

    async def _schedule(self) -> bool:
        """Wait for the first write and answer the caller; False when the run ends here."""
        reply = self._reply
        first = self.submit_first_write()
        assert first is not None
        try:
            await first.outcome()
        except (DuplicateSlot, LeaseLost):  # fired elsewhere, or not ours to fire any more
            return False
        except WriterKeyBusy:
            try:
                skipped = await record_skipped(self._services, self.run)
            except BaseException as exc:
                _fail_reply(reply, exc)
                raise
            self.run, self.recorded = skipped, True
            if reply is not None:
                reply.send(skipped)
            return False
        except BaseException as exc:
            _fail_reply(reply, exc)
            raise
        self.recorded = True
        if reply is not None:
            reply.send(self.run)
        if self._started is not None:
            self.run = self._started
        return True

    async def _execute(self, executor: Any) -> None:
        if self._outcome is None and executor is None:
            message = (
                f"no executor named {self.automation.executor!r} is registered in this "
                "runtime; register it with open_runtime(executors={...})"
            )
            self._fail(ErrorCode.EXECUTION_FAILED, message)
        begun, self._begun = self._begun, None
        if begun is None and self._outcome is None and self.run.state is RunState.SCHEDULED:
            begun = self._submit(RunState.RUNNING, {})
        if begun is not None:
            try:
                await self._durable(*begun)
            except WriterKeyBusy:  # a deferred run found its key taken by another process
                self._decide(
                    RunState.STOPPED, {"stop_reason": StopReason.PREVIOUS_RUN_AWAITING_INPUT}
                )
            except StorageError as exc:
                self._fail(ErrorCode.EXECUTION_FAILED, f"the run could not start: {exc}")
        if self._outcome is None and executor is not None:
            await self._call_executor(executor)
        await self._finish()

    async def _call_executor(self, executor: Any) -> None:
        context = RunContext(self, self.run, self.automation)
        ended: _Outcome | None = None
        self._helpers = []
        self._start_watchdog()
        with anyio.CancelScope() as scope:
            self._executor_scope = scope
            try:
                value = await executor(context)
            except StepCapExceeded:
                pass  # decided when the cap was hit
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                ended = RunState.FAILED, {"error": RunError(ErrorCode.EXECUTION_FAILED, message)}
            else:
                ended = self._natural_outcome(value)
        self._executor_scope = None  # decisions from here on have nothing to cancel
        helpers, self._helpers = self._helpers, None
        for helper in helpers:  # the watchdog and the grace end with the executor
            helper.cancel()
        if ended is not None:
            self._decide(*ended)
        if self._outcome is None:  # cancelled from outside the runtime's decisions
            self._decide(RunState.STOPPED, {"stop_reason": StopReason.CANCELLED})

    def _natural_outcome(self, value: object) -> _Outcome:
        if value is None or isinstance(value, str):
            return RunState.SUCCEEDED, {"result": value}
        if isinstance(value, RunOutcome):
            if value.cost is not None:
                self.cost = value.cost
            if value.session_id is not None:
                self._session_id = value.session_id
            return RunState.SUCCEEDED, {"result": value.result}
        message = (
            f"the executor returned {type(value).__name__}; return a RunOutcome, a str or None"
        )
        return RunState.FAILED, {"error": RunError(ErrorCode.EXECUTION_FAILED, message)}

    def _start_watchdog(self) -> None:
        limit = self.automation.max_duration
        started = self.run.started_at
        if limit is None or started is None:
            return

        async def watch() -> None:
            await self._services.clock.sleep_until(started + limit)
            self._fail(ErrorCode.TIMEOUT, f"Automation run exceeded its max duration ({limit}).")

        self._start_helper(watch, f"run-timeout:{self.id}")

    def _start_helper(self, function: Callable[[], Awaitable[None]], name: str) -> None:
        """Run `function` beside the executor, until the executor returns."""
        assert self._helpers is not None
        scope = anyio.CancelScope()
        self._helpers.append(scope)

        async def helper() -> None:
            with scope:
                await function()

        self._spawn(helper, name)

    async def _finish(self) -> None:
        """Record the decided end, once: here, or by the grace watcher before us.

        The end is submitted, not waited for: the run is finished (`on_end`, its
        waiters) when the write is durable and the run's job has returned, whichever
        comes last, so the job's task is free at once and nobody wakes it again. (An
        awaited end keeps every run's frames alive across a commit, and a busy slot's
        worth of them costs the collector's slow passes: see `RunActor`.)
        """
        while self._writing:  # only the grace watcher can get here during a write
            self._written = self._written or anyio.Event()
            await self._written.wait()
        if self.finished.end is not None:
            return
        self.finished.end_submitted()
        assert self._outcome is not None
        state, payload = self._outcome
        waiting = self.run.state is RunState.AWAITING_INPUT
        if state is RunState.STOPPED and self._shutdown and waiting:
            payload = {"stop_reason": StopReason.BLOCKER_LOST}
        self._submit_end(state, payload, _RETRY_FIRST)

    def _submit_end(self, state: RunState, payload: dict[str, Any], retry: float) -> None:
        self.ended = True  # submitted now: writes commit in submission order
        nxt, pending = self._submit(state, payload)

        def recorded(done: PendingWrite[int]) -> None:
            self._written_now()
            error = done.error
            if isinstance(error, StorageError):
                # The disk is full or the file locked: an active run would hold its
                # writer key for ever, so try again, on the runtime's clock.
                self.ended = False
                log.error("could not record the end of run %s; retrying: %s", self.id, error)
                self._spawn(lambda: self._retry_end(state, payload, retry), f"end:{self.id}")
                return
            if error is None:
                self.run = nxt
            else:
                log.error("could not record the end of run %s: %s", self.id, error)
            self.finished.end_settled()

        pending.add_done_callback(recorded)

    async def _retry_end(self, state: RunState, payload: dict[str, Any], delay: float) -> None:
        await self._services.clock.sleep(delay)
        self._submit_end(state, payload, min(delay * 2, _RETRY_MAX))

    def _finished_now(self) -> None:
        self._answers.close()
        self._on_end(self)

    # -- decisions ------------------------------------------------------------------

    def _decide(self, state: RunState, payload: dict[str, Any]) -> bool:
        if self._outcome is not None:
            return False
        self._outcome = (state, payload)
        if self._executor_scope is not None and self._helpers is not None:
            self._executor_scope.cancel()
            self._start_helper(self._grace, f"run-grace:{self.id}")
        return True

    async def _grace(self) -> None:
        """If the executor ignores cancellation past the grace, end the run without it."""
        await self._services.clock.sleep(self._services.cancel_grace)
        if not self.finished.is_open and self._executor_scope is not None:
            await self._finish()

    def _fail(self, code: ErrorCode, message: str) -> bool:
        return self._decide(RunState.FAILED, {"error": RunError(code, message)})

    # -- what the executor calls through its RunContext --------------------------

    async def step(self) -> None:
        cap = self.automation.step_cap
        if self.steps >= cap:
            error = step_cap_error(cap)
            self._decide(RunState.FAILED, {"error": error})
            raise StepCapExceeded(error.message)
        self.steps += 1
        await anyio.lowlevel.checkpoint()

    def report_cost(self, amount: float) -> None:
        self.cost = (self.cost or 0.0) + amount

    async def checkpoint(self, data: Any) -> None:
        body = msgspec.json.encode(data)
        operation = SaveCheckpoint(self.id, body, self._services.now())
        with anyio.CancelScope(shield=True):
            await self._services.store.write(operation)

    async def ask(self, request: Question | Permission) -> str | bool:
        timeout = None
        if not self.run.attended:
            policy = self.automation.unattended_blockers
            if policy is UnattendedBlockers.REJECT:
                raise BlockerRejected(
                    f"an unattended run cannot ask {describe(request)}; nobody is there to answer"
                )
            if policy is UnattendedBlockers.FAIL:
                self._fail(
                    ErrorCode.NEEDS_USER_INPUT,
                    f"An unattended run needed input: {describe(request)}",
                )
            timeout = self.automation.blocker_timeout
        if self._outcome is not None:  # the run is ending: its executor scope is cancelled
            await anyio.lowlevel.checkpoint()  # so this raises, unless the ask is shielded
            raise BlockerRejected(
                f"run {self.id} is ending; it cannot ask {describe(request)} any more"
            )
        blocker = self._reopen
        self._reopen = None
        if blocker is not None and blocker.request == request:
            stored = await self._services.store.reader.answer(
                self._services.scope, self.id, blocker.id
            )
            if stored is not None:  # answered while no process ran it
                return decode_reply(stored)
        else:
            now = self._services.now()
            blocker = Blocker(id=new_blocker_id(), request=request, asked_at=now)
        with anyio.CancelScope(shield=True):
            await self._transition(RunState.AWAITING_INPUT, {"blocker": blocker})
        if timeout is None:
            reply = await self._answers.wait(blocker.id)
        else:
            reply = await self._answer_within(blocker, self._services.now() + timeout)
        with anyio.CancelScope(shield=True):
            await self._transition(RunState.RUNNING, {})
        return reply  # type-checked against the blocker by Runtime.answer

    async def _answer_within(self, blocker: Blocker, deadline: datetime) -> str | bool:
        async with anyio.create_task_group() as tg:

            async def alarm() -> None:
                await self._services.clock.sleep_until(deadline)
                self._fail(
                    ErrorCode.NEEDS_USER_INPUT,
                    f"Nobody answered {describe(blocker.request)} within the blocker timeout.",
                )

            tg.start_soon(alarm)
            reply = await self._answers.wait(blocker.id)
            tg.cancel_scope.cancel()
        return reply

    # -- writing transitions ----------------------------------------------------------

    async def _transition(self, state: RunState, payload: dict[str, Any]) -> None:
        """Write the next revision durably; the grace watcher waits for it to land."""
        await self._durable(*self._submit(state, payload))

    async def _durable(self, nxt: Run, pending: PendingWrite[int]) -> None:
        """Wait for a submitted revision to be durable; it is the run's from then on."""
        try:
            await pending.outcome()
            self.run = nxt
        finally:
            self._written_now()

    def _submit(
        self, state: RunState, payload: dict[str, Any], *, at: datetime | None = None
    ) -> tuple[Run, PendingWrite[int]]:
        """Submit the next revision, which happens `at` (now by default);
        `_written_now()` must follow once it is done."""
        now = self._services.now()
        nxt = advance(
            self.run,
            state,
            at=now if at is None else at,
            steps=self.steps,
            cost=self.cost,
            session_id=self._session_id,
            **payload,
        )
        self._writing = True
        services = self._services
        operation = SaveRun(
            services.scope, nxt, self.run.revision, now, self._writer_key, services.owner
        )
        return nxt, services.store.submit(operation)

    def _written_now(self) -> None:
        self._writing = False
        if self._written is not None:
            self._written.set()
            self._written = None


def _fail_reply(reply: Reply[Run] | None, error: BaseException) -> None:
    """Tell the caller its run was not recorded. A cancellation belongs to the task it
    was delivered to, never to the caller's: the caller hears that the runtime closed."""
    if reply is None:
        return
    if isinstance(error, Exception):
        reply.fail(error)
    else:
        reply.fail(StoreClosed("the runtime closed before the run was recorded; run it again"))
