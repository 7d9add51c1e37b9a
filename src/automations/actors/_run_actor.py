"""RunActor: one run, from `scheduled` to its terminal state.

Every transition is durable before anything acts on it, and the end is *decided*
once, on the event loop: the first of the executor's own end, a stop request, a step
cap, an unanswerable blocker or a timeout wins (no `succeeded` after a cancel). Its
parts: a `Phase` (`_run_phase`), a `RunLedger` (its writes), an `Execution`, its
`RunControls`; the last two are made as the executor starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import anyio
import anyio.lowlevel

from ..model import (
    Automation,
    AutomationError,
    Blocker,
    ErrorCode,
    KeyHolder,
    LeaseLost,
    Run,
    RunState,
    StopReason,
    StorageError,
    WriterKeyBusy,
)
from ..persistence import PendingWrite
from ..runtime import Reply
from ._context import RunContext
from ._controls import RunControls
from ._execution import Execution, Spawn, unregistered
from ._finish import FinishLatch
from ._fire_limit import Permit
from ._retries import NO_RETRY, NextAttempt
from ._run_ledger import RunLedger
from ._run_phase import SETTLED, WRITTEN, Decision, Fail, Leave, Phase, Stop, check_phase
from ._services import Executor, Services, is_resumable

__all__ = ["RunActor"]

log = logging.getLogger("automations.actors")

_RETRY_FIRST, _RETRY_MAX = 0.25, 5.0  # seconds between tries to record an end storage refused


class RunActor:
    """Executes one run, as one task (`main`); its owner learns the end by `on_end`."""

    # Thousands are alive at once when a busy slot fires: slots keep each small.
    __slots__ = (
        "_begun",
        "_context",
        "_controls",
        "_decision",
        "_execution",
        "_executor",
        "_first",
        "_go",
        "_on_end",
        "_reply",
        "_retry",
        "_services",
        "_spawn",
        "automation",
        "epoch",
        "finished",
        "id",
        "ledger",
        "next_attempt",
        "permit",
        "phase",
        "recorded",
    )

    def __init__(
        self,
        services: Services,
        automation: Automation,
        run: Run,
        *,
        writer_key: str | None = None,
        reply: Reply[Run] | None = None,
        on_end: Callable[[RunActor], None],
        spawn: Spawn,
        phase: Phase = Phase.STARTING,
        epoch: int | None = None,
        reopen: Blocker | None = None,
        recorded: bool = False,
    ) -> None:
        """`phase` is where the run begins: STARTING (at once), WAITING (recorded
        `scheduled` without its writer key, until `start()`), CLAIMED (recorded ahead of
        its slot, until `admit()`) or ADOPTED (`running`, from a dead process; `reopen`
        is the blocker it waited on); a `recorded` one (a retry) has no first write."""
        self._services = services
        self.id = run.id
        self.automation = automation
        self.ledger = RunLedger(
            services.store,
            services.scope,
            services.owner,
            services.clock,
            run,
            writer_key=writer_key,
            epoch=epoch,
        )
        self.epoch = epoch  # the lease epoch of its fire (None: not a fire)
        self._controls: RunControls | None = None
        self._execution: Execution | None = None
        self._context: RunContext | None = None
        self._reply = reply
        self._on_end = on_end
        self._spawn = spawn
        self.phase = phase
        waits = phase in (Phase.CLAIMED, Phase.WAITING)  # until `start()`, then set
        self._go: anyio.Event | None = anyio.Event() if waits else None
        self.recorded = phase is Phase.ADOPTED or recorded  # its first write is durable
        self.next_attempt = NextAttempt(automation) if automation.retry else NO_RETRY
        self._executor: Executor | None = services.executors.get(automation.executor)
        self._decision: Decision | Leave | None = None
        self._retry = _RETRY_FIRST  # seconds before an end storage refused is tried again
        self.finished = FinishLatch(self._finished_now)
        self._first: PendingWrite[list[int]] | None = None
        self._begun: PendingWrite[int] | None = None  # `running`, submitted at admission
        self.permit: Permit | None = None  # a fired run's share of the `FireLimit`
        if phase is Phase.ADOPTED:  # the others' controls are made as the executor starts
            self._make_controls(reopen)

    @property
    def run(self) -> Run:
        """The run as its last durable revision says."""
        return self.ledger.run

    @property
    def holder(self) -> KeyHolder:
        return self.ledger.holder()

    @property
    def ended(self) -> bool:
        """Its end is submitted: a run started after now is recorded after it."""
        return self.phase in WRITTEN

    @property
    def stopping(self) -> bool:
        """Its end is decided; it will not start, or is being stopped."""
        return self._decision is not None

    def _enter(self, phase: Phase) -> None:
        check_phase(self.phase, phase)
        self.phase = phase

    # -- requests from other actors (synchronous, on the event loop) -------------

    def start(self, _: object = None) -> None:
        """Let a waiting run begin (buffered, waiting for superseded runs, admitted);
        also the callback of its `running` write."""
        if self._go is not None:
            self._go.set()

    def admit(self, writer_key: str | None, *, wait: bool, at: datetime) -> None:
        """Admit a run recorded ahead of its slot, holding `writer_key`, `at` its slot's
        alarm. Unless it must `wait`, `running` is submitted now, started `at` then: a
        slot's runs commit it together."""
        self.ledger.writer_key = writer_key
        if wait:
            self._enter(Phase.WAITING)
        elif self._decision is None and self._executor is not None:
            self._enter(Phase.STARTING)
            self._begun = begun = self.ledger.submit(RunState.RUNNING, fenced=True, at=at)
            begun.add_done_callback(self.start)  # one wake-up, not two
        else:
            self.start()

    def request_stop(self, reason: StopReason, *, held_by: KeyHolder | None = None) -> bool:
        """Stop the run with `reason` (skipped for `held_by`); False if already decided."""
        accepted = self._decide(Stop(reason, held_by))
        if accepted:
            self.start()
        return accepted

    def leave(self) -> bool:
        """As the process closes, leave a run waiting on a blocker of a resumable executor
        `awaiting_input` for the next worker (cancelled, nothing written); else False."""
        waits = self.phase is Phase.EXECUTING and self.ledger.blocked
        if not waits or self._executor is None or not is_resumable(self._executor):
            return False
        return self._decide(Leave())

    @property
    def left(self) -> bool:
        return isinstance(self._decision, Leave) and self.run.state is RunState.AWAITING_INPUT

    def release(self) -> bool:
        """Leave a run waiting for its slot `scheduled` for the next lease holder (the
        process closes, or hands the lease over); False once admitted, or decided."""
        if self.phase is not Phase.CLAIMED or self._decision is not None:
            return False
        self._enter(Phase.RELEASED)
        self.start()
        return True

    def deliver(self, blocker_id: str, reply: str | bool) -> None:
        """Hand over an answer stored durably already (no controls: no blocker open)."""
        if not self.finished.is_open and self._controls is not None:
            self._controls.answers.deliver(blocker_id, reply)

    # -- the run's life -------------------------------------------------------------

    def submit_first_write(self) -> PendingWrite[list[int]] | None:
        """Submit the first write, `scheduled` (and `running` when it starts at once);
        `main` is best started once it is done. None for a run adopted running."""
        if self.recorded or self._first is not None:
            return self._first
        now = self.phase is Phase.STARTING
        start = now and self._executor is not None
        self._first = self.ledger.submit_first(start=start, hold_key=now)
        return self._first

    async def main(self) -> None:
        try:
            if self.phase is Phase.ADOPTED:
                if self._controls is not None and self._controls.resumed:
                    await self._controls.load_checkpoint()
                await self._execute()
            elif self.recorded or await self._schedule():
                if self._go is not None:
                    await self._go.wait()
                if self.phase is not Phase.RELEASED:
                    await self._execute()
        except AutomationError:  # told to whoever waited; the next lease holder reconciles
            log.exception("run %s could not be recorded", self.id)
        except Exception:
            log.exception("run %s failed inside the runtime", self.id)
            raise
        finally:
            if self.phase not in SETTLED:
                self.phase = Phase.OVER  # never recorded, or given up on
            self.finished.job_returned()

    async def _schedule(self) -> bool:
        """Wait for the first write and answer the caller; False when the run ends here."""
        first = self.submit_first_write()
        assert first is not None
        recorded = await self.ledger.first_outcome(first, self._reply)
        self.recorded = recorded is not None
        if not recorded:
            return False
        self._first = self._reply = None  # a claimed run waits long: keep it small
        if self.phase is Phase.CLAIMED:
            self._prepare()
        return True

    async def _execute(self) -> None:
        executor = self._executor
        if executor is None:
            self._decide(unregistered(self.automation.executor))
        begun, self._begun = self._begun, None
        admitted = begun is not None  # at its slot, with the other runs of the slot
        if begun is None and self._decision is None and self.run.state is RunState.SCHEDULED:
            self._enter(Phase.STARTING)  # fenced as at its slot: it may have waited long
            begun = self.ledger.submit(RunState.RUNNING, fenced=True)
        if begun is not None:
            try:
                await self.ledger.durable(begun)
            except WriterKeyBusy as busy:  # a waiting run found its key taken elsewhere
                self._decide(Stop(StopReason.PREVIOUS_RUN_AWAITING_INPUT, busy.holder))
            except LeaseLost:  # fired under a lease another process holds now
                log.warning("run %s not started: this process lost the lease", self.id)
                self._decide(Stop(StopReason.EXPIRED))
            except StorageError as exc:
                message = f"the run could not start: {exc}"
                self._decide(Fail.because(ErrorCode.EXECUTION_FAILED, message))
        if self._decision is None and executor is not None:
            self._enter(Phase.EXECUTING)
            await self._call_executor(executor)
            if admitted:  # the slot's other executors start before this end is recorded
                await anyio.lowlevel.cancel_shielded_checkpoint()
        await self._finish()

    def _prepare(self) -> tuple[Execution, RunContext]:
        """What the executor's call needs; a claimed run makes it as it is recorded,
        so that at its slot only `running` and a wake-up are left to do."""
        if self._execution is None or self._context is None:
            s = self._services
            self._execution = Execution(
                self.id, self._spawn, s.clock, s.cancel_grace, self._finish, s.observer
            )
            controls = self._controls or self._make_controls()
            self._context = RunContext(controls, self.run, self.automation)
        return self._execution, self._context

    async def _call_executor(self, executor: Executor) -> None:
        limit, started = self.automation.max_duration, self.run.started_at
        deadline = None if limit is None or started is None else started + limit
        execution, context = self._prepare()
        context.run = self.run  # as it started
        ended = await execution.call(
            executor, context, self.ledger, deadline, on_timeout=self._timed_out
        )
        if ended is not None:
            self._decide(ended)
        elif self._decision is None:  # nothing was decided (a stray cap)
            self._decide(Stop(StopReason.CANCELLED))

    def _make_controls(self, reopen: Blocker | None = None) -> RunControls:
        services = self._services
        self._controls = controls = RunControls(
            self.ledger,
            self.automation,
            services.store,
            services.scope,
            services.clock,
            reopen=reopen,
            decide=self._decide,
            ending=self._is_ending,
        )
        return controls

    def _is_ending(self) -> bool:
        return self._decision is not None

    def _timed_out(self) -> None:
        message = f"Automation run exceeded its max duration ({self.automation.max_duration})."
        self._decide(Fail.because(ErrorCode.TIMEOUT, message))

    # -- the end --------------------------------------------------------------------

    def _decide(self, decision: Decision | Leave) -> bool:
        """The run ends with `decision`, unless its end was decided already."""
        if self._decision is not None:
            return False
        self._decision = decision
        if self._execution is not None:
            self._execution.interrupt()
        return True

    async def _finish(self) -> None:
        """Record the decided end, once (here, or by the grace watcher before us),
        submitted, not awaited: the run is finished once it is durable and the job has
        returned; an awaited end would keep every run's frames alive across a commit."""
        await self.ledger.wait_settled()
        if self.phase in SETTLED:
            return
        if self.run.state.is_terminal:  # recorded already: a blocker's timeout
            self._enter(Phase.ENDING)
            self._enter(Phase.OVER)
            return
        decision = self._decision
        assert decision is not None
        if isinstance(decision, Leave):
            if self.run.state is RunState.AWAITING_INPUT:
                return  # left as it is, for the next worker: no end, no write
            decision = Stop(StopReason.WORKER_STOPPED)  # it went on meanwhile
        self.finished.end_submitted()
        self._submit_end(decision, _RETRY_FIRST)

    def _submit_end(self, decision: Decision, retry: float) -> None:
        self._enter(Phase.ENDING)
        self._decision, self._retry = decision, retry  # no closure: thousands end at once
        pending = self.next_attempt.with_end(self._services.store, self.ledger, decision)
        pending.add_done_callback(self._end_recorded)

    def _end_recorded(self, done: PendingWrite[int]) -> None:
        self.ledger.settle(done)
        error = done.error
        if isinstance(error, StorageError):
            # The disk is full or the file locked: an active run would hold its writer
            # key for ever, so try again, on the runtime's clock.
            self._enter(Phase.RETRYING)
            log.error("could not record the end of run %s; retrying: %s", self.id, error)
            self._spawn(self._retry_end, f"run-end:{self.id}")
            return
        if error is not None:
            log.error("could not record the end of run %s: %s", self.id, error)
        self._enter(Phase.OVER)
        self.finished.end_settled()

    async def _retry_end(self) -> None:
        await self._services.clock.sleep(self._retry)
        decision = self._decision
        assert decision is not None
        assert not isinstance(decision, Leave)
        self._submit_end(decision, min(self._retry * 2, _RETRY_MAX))

    def _finished_now(self) -> None:
        # Drop the callbacks into this actor: a finished run is freed by its reference
        # count, not left as a cycle for the collector's slow passes.
        if self._controls is not None:
            self._controls.detach()
        if self._execution is not None:
            self._execution.detach()
        self._on_end(self)
        permit, self.permit = self.permit, None
        if permit is not None:
            permit.release()
