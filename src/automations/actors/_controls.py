"""What an executor can do to its run, through its `RunContext`: count steps against the
cap, add cost, keep checkpoints to go on after a restart, and ask a person (DESIGN 6.6
and 6.7).

The blocker is durable (`awaiting_input`) before anyone can answer it; the answer is
stored before it is delivered (`Runtime.answer`), so an answer that comes before the
wait, or to a run resumed after a restart, is found in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio
import anyio.lowlevel
import msgspec

from ..model import (
    Automation,
    AutomationError,
    Blocker,
    BlockerAnswered,
    BlockerRejected,
    Conflict,
    ErrorCode,
    Permission,
    Question,
    RunState,
    Scope,
    StepCapExceeded,
    UnattendedBlockers,
    new_blocker_id,
    step_cap_error,
)
from ..persistence import PendingWrite, ReaderPort, SaveCheckpoint, SaveProgress, StorePort
from ..runtime import Clock
from ._answers import Answers, decode_reply, describe
from ._run_ledger import RunLedger
from ._run_phase import Fail

__all__ = ["RunControls"]


class RunControls:
    """Implements `RunControl` for one run. Its blockers are asked one at a time and
    answered through `answers`."""

    __slots__ = (
        "_automation",
        "_clock",
        "_decide",
        "_ending",
        "_ledger",
        "_progress",
        "_reader",
        "_reopen",
        "_scope",
        "_store",
        "answers",
        "checkpoint_data",
        "resumed",
    )

    def __init__(
        self,
        ledger: RunLedger,
        automation: Automation,
        store: StorePort,
        scope: Scope,
        clock: Clock,
        *,
        reopen: Blocker | None,
        decide: Callable[[Fail], bool],
        ending: Callable[[], bool],
    ) -> None:
        """`reopen` is the blocker a resumed run waited on; `decide` ends the run (the
        first decision wins); `ending` says whether its end is decided."""
        self._ledger = ledger
        self._automation = automation
        self._store = store
        self._reader: ReaderPort = store.reader
        self._scope = scope
        self._clock = clock
        self._reopen = reopen
        self._decide = decide
        self._ending = ending
        self.answers = Answers()
        self.resumed = reopen is not None
        """This call goes on with a run another process started."""
        self._progress: PendingWrite[None] | None = None
        """The last `SaveProgress` submitted: one at a time, the latest steps next."""
        self.checkpoint_data: Any = None
        """The last checkpoint of a resumed run, decoded (see `load_checkpoint`)."""

    def detach(self) -> None:
        """The run is over: drop the answers and the callbacks into its actor."""
        self.answers.close()
        self._decide = _decided_already
        self._ending = _ended

    @property
    def steps(self) -> int:
        return self._ledger.steps

    async def step(self) -> None:
        cap = self._automation.step_cap
        if self._ledger.steps >= cap:
            error = step_cap_error(cap)
            self._decide(Fail(error))
            raise StepCapExceeded(error.message)
        self._ledger.steps += 1
        self._note_progress()
        await anyio.lowlevel.checkpoint()

    def _note_progress(self, done: PendingWrite[None] | None = None) -> None:
        """Keep the steps durably between transitions, so a run whose process dies is
        ended with them: submitted, not awaited, one write in flight at a time (the
        latest steps follow when it is done), none once the run's end is decided (the
        end records them)."""
        if done is None and self._progress is not None and not self._progress.done:
            return  # in flight: its callback sends the latest steps
        steps = self._ledger.steps
        if self._ending() or (done is not None and (done.error or _progress_steps(done) >= steps)):
            return  # over, the store refused it (closing: the end records the steps), or kept
        operation = SaveProgress(self._ledger.run.id, steps, self._ledger.now())
        self._progress = pending = self._store.submit(operation)
        pending.add_done_callback(self._note_progress)

    def report_cost(self, amount: float) -> None:
        self._ledger.cost = (self._ledger.cost or 0.0) + amount

    async def load_checkpoint(self) -> None:
        """Read the run's last checkpoint (a resumed run's executor starts with it)."""
        data = await self._reader.checkpoint(self._ledger.run.id)
        if data is not None:
            self.checkpoint_data = msgspec.json.decode(data)

    async def checkpoint(self, data: Any) -> None:
        """Keep `data` (JSON-serialisable) durably as the run's latest checkpoint."""
        ledger = self._ledger
        operation = SaveCheckpoint(ledger.run.id, msgspec.json.encode(data), ledger.now())
        with anyio.CancelScope(shield=True):
            await self._store.write(operation)

    async def ask(self, request: Question | Permission) -> str | bool:
        automation = self._automation
        timeout = None
        if not self._ledger.run.attended:
            policy = automation.unattended_blockers
            if policy is UnattendedBlockers.REJECT:
                raise BlockerRejected(
                    f"an unattended run cannot ask {describe(request)}; nobody is there to answer"
                )
            if policy is UnattendedBlockers.FAIL:
                message = f"An unattended run needed input: {describe(request)}"
                self._decide(Fail.because(ErrorCode.NEEDS_USER_INPUT, message))
            timeout = automation.blocker_timeout
        if self._ending():  # the run is ending: its executor scope is cancelled
            await anyio.lowlevel.checkpoint()  # so this raises, unless the ask is shielded
            raise BlockerRejected(
                f"run {self._ledger.run.id} is ending; it cannot ask {describe(request)} any more"
            )
        blocker = await self._open(request)
        if isinstance(blocker, str | bool):
            return blocker  # answered while no process ran the run
        if timeout is None:
            reply = await self.answers.wait(blocker.id)
        else:
            reply = await self._answer_within(blocker, self._ledger.now() + timeout)
        if self._ledger.trace is not None:  # answered: a newer span for what follows
            self._ledger.trace.resumed()
        with anyio.CancelScope(shield=True):
            await self._ledger.transition(RunState.RUNNING)
        return reply  # type-checked against the blocker by Runtime.answer

    async def _open(self, request: Question | Permission) -> Blocker | str | bool:
        """Record the blocker `awaiting_input`, or reopen the one a resumed run waited on
        (its stored answer, if it has one)."""
        blocker, self._reopen = self._reopen, None
        if blocker is not None and blocker.request == request:
            stored = await self._reader.answer(self._scope, self._ledger.run.id, blocker.id)
            if stored is not None:
                return decode_reply(stored)
        else:
            blocker = Blocker(id=new_blocker_id(), request=request, asked_at=self._ledger.now())
        with anyio.CancelScope(shield=True):
            await self._ledger.transition(RunState.AWAITING_INPUT, blocker=blocker)
        return blocker

    async def _answer_within(self, blocker: Blocker, deadline: datetime) -> str | bool:
        async with anyio.create_task_group() as tg:

            async def alarm() -> None:
                await self._clock.sleep_until(deadline)
                message = f"Nobody answered {describe(blocker.request)} within the blocker timeout."
                fail = Fail.because(ErrorCode.NEEDS_USER_INPUT, message)
                if await self._time_out(blocker, fail):
                    self._decide(fail)

            tg.start_soon(alarm)
            reply = await self.answers.wait(blocker.id)
            tg.cancel_scope.cancel()
        return reply

    async def _time_out(self, blocker: Blocker, fail: Fail) -> bool:
        """Record `fail` unless an answer to `blocker` was stored first, checked in the
        transaction of the failure (this process may have slept through its delivery);
        False, with the stored answer delivered, when one was."""
        if self._ending():
            return False
        pending = self._ledger.submit_end(fail, unanswered=blocker.id)
        try:
            with anyio.CancelScope(shield=True):
                await self._ledger.durable(pending)
        except BlockerAnswered:
            stored = await self._reader.answer(self._scope, self._ledger.run.id, blocker.id)
            if stored is not None:
                self.answers.deliver(blocker.id, decode_reply(stored))
            return False
        except Conflict:  # ended meanwhile (a cancel): that end stands
            return False
        except AutomationError:  # storage trouble: the run fails, its end retried
            return True
        return True


def _progress_steps(done: PendingWrite[None]) -> int:
    operation = done.operation
    assert isinstance(operation, SaveProgress)
    return operation.steps


def _decided_already(decision: Fail) -> bool:
    return False


def _ended() -> bool:
    return True
