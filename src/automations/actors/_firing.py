"""What happens when a slot fires (DESIGN 6.3 to 6.5): a plan, then its effects.

`plan_fire` is pure, as `_derived` is: from the definition, the slot, the time and
how many runs are going, it says whether the slot is stale, passes unfired (a count
stop the runs going will reach), starts a run (recorded ahead of its slot when the
slot is still to come), or was missed (one record for the whole episode, and a
catch-up run of the latest missed slot when the policy asks for one). `Firing` carries
a plan out for one automation: the missed record, the overlap policy (start, wait or
skip, see `GoingRuns`), the run's first write, and the next fires, a slot's run and
its next fires in one transaction. A run recorded ahead of its slot is admitted when
the slot comes (`GoingRuns.claim`, `SlotStarts`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import msgspec

from ..model import (
    Automation,
    AutomationError,
    Catchup,
    KeyHolder,
    Kind,
    Missed,
    Run,
    Trigger,
)
from ..runtime import Reply
from ..schedules import missed_slots, planned_start, timeline_of
from ._derived import may_start, next_run
from ._going import GoingRuns
from ._messages import BackfillSlot
from ._records import record_missed, record_skipped
from ._run_phase import Phase
from ._services import Services

__all__ = ["FirePlan", "Firing", "Late", "OnTime", "Passes", "Stale", "answer", "plan_fire"]

_ONE_MS = timedelta(milliseconds=1)
T = TypeVar("T")


class Stale(msgspec.Struct, frozen=True):
    """Not the automation's next fire any more (changed, paused, deleted)."""


class Passes(msgspec.Struct, frozen=True):
    """The slot passes unfired: the runs going will reach the count stop."""

    slot: datetime


class OnTime(msgspec.Struct, frozen=True):
    """Start `run`; `ahead` when its slot is still to come (it starts at the slot)."""

    run: Run
    ahead: bool


class Late(msgspec.Struct, frozen=True):
    """The slots in `missed` passed unfired; with `catchup`, the latest of them runs
    (its run is made after the missed record, so its id sorts after it)."""

    missed: Missed
    catchup: bool


FirePlan = Stale | Passes | OnTime | Late


def plan_fire(
    automation: Automation | None,
    slot: datetime,
    now: datetime,
    *,
    going: int,
    at_startup: bool = False,
) -> FirePlan:
    """What firing `slot` at `now` means while `going` runs of the automation are going.

    A slot is late when it fires more than `catchup_window` after its time (its
    planned start, with a jitter); a one-shot found past its time when the runtime
    starts is missed (DESIGN 6.3, 6.4). A jittered run still to start is recorded
    ahead and starts at its planned start.
    """
    if automation is None or automation.paused or automation.next_fire_at != slot:
        return Stale()
    window = automation.catchup_window
    if at_startup and automation.kind is Kind.ONESHOT:
        window = timedelta(0)
    planned = planned_start(automation, slot)
    if now > (slot if planned is None else planned) + window:  # late for its planned start
        # Late slots are those before `now - window`; one exactly on it is on time.
        missed = missed_slots(timeline_of(automation), slot, now - window - _ONE_MS)
        assert missed is not None
        latest = automation.catchup is Catchup.LATEST and may_start(automation, going)
        return Late(missed, latest)
    if not may_start(automation, going):
        return Passes(slot)
    run = next_run(automation, Trigger.SCHEDULE, slot, attended=False, planned_at=planned)
    return OnTime(run, run.starts_at > now)


class StartRun(Protocol):
    def __call__(
        self,
        automation: Automation,
        run: Run,
        reply: Reply[Run] | None,
        *,
        phase: Phase,
        writer_key: str | None,
        epoch: int | None,
    ) -> None:
        """Make the run's actor, note it among the runs going, submit its first write."""
        ...


class Reschedule(Protocol):
    def __call__(
        self,
        current: Automation,
        after: datetime,
        launched: bool,
        epoch: int | None,
        *,
        with_run: bool = False,
    ) -> None:
        """Move the next fire past `after` (the slot handled up to), whether a run was
        `launched`; `with_run`: only if the slot `after` has its run in the database."""
        ...


class Firing:
    """Carries out fire plans, and run-nows, for one automation."""

    __slots__ = ("_reschedule", "_runs", "_services", "_start")

    def __init__(
        self, services: Services, runs: GoingRuns, start: StartRun, reschedule: Reschedule
    ) -> None:
        self._services = services
        self._runs = runs
        self._start = start
        self._reschedule = reschedule

    async def fire(self, current: Automation, plan: FirePlan, epoch: int | None) -> None:
        """`epoch` fences every write with the lease the slot fired under."""
        if isinstance(plan, Passes):
            self._reschedule(current, plan.slot, False, epoch)
        elif isinstance(plan, Late):
            last = plan.missed.last
            services = self._services
            await record_missed(
                services.store, services.scope, services.now(), current, plan.missed, epoch
            )
            if plan.catchup:
                catchup = next_run(current, Trigger.CATCHUP, last, attended=False)
                await self.launch(current, catchup, None, epoch)
            self._reschedule(current, last, plan.catchup, epoch, with_run=plan.catchup)
        elif isinstance(plan, OnTime):
            await self._on_time(current, plan.run, plan.ahead, epoch)

    async def _on_time(self, current: Automation, run: Run, ahead: bool, epoch: int | None) -> None:
        # The run and the next fires in one transaction, the next fires only if the
        # run is there: a crash, or a run the database refused, leaves the slot due.
        with self._services.store.together():
            if ahead:  # recorded now, admitted at the slot
                self._start(current, run, None, phase=Phase.CLAIMED, writer_key=None, epoch=epoch)
                admitted = True
            else:
                admitted = self._admit(current, run, None, epoch)
            if admitted:
                self._reschedule(current, run.triggered_at, True, epoch, with_run=True)
        if not admitted:
            await self._skip(run, None, epoch)  # recorded before the slot is passed
            self._reschedule(current, run.triggered_at, True, epoch, with_run=True)

    async def run_now(
        self, automation: Automation, run_id: str | None, now: datetime, reply: Reply[Run]
    ) -> None:
        run = next_run(automation, Trigger.MANUAL, now, attended=True, id=run_id)
        await self.launch(automation, run, reply)

    async def backfill(self, automation: Automation, message: BackfillSlot) -> None:
        """A past slot's run, through the overlap policy (the automation's, or the one
        the backfill names); the once-per-slot index refuses a slot that has a run."""
        run = next_run(
            automation, Trigger.BACKFILL, message.slot, attended=False, id=message.run_id
        )
        if message.overlap is not None and message.overlap is not automation.overlap:
            automation = msgspec.structs.replace(automation, overlap=message.overlap)
        await self.launch(automation, run, message.reply)

    async def launch(
        self,
        automation: Automation,
        run: Run,
        reply: Reply[Run] | None,
        epoch: int | None = None,
    ) -> None:
        """Start `run` as the overlap policy says, or record it as skipped."""
        if not self._admit(automation, run, reply, epoch):
            await self._skip(run, reply, epoch)

    def _admit(
        self, automation: Automation, run: Run, reply: Reply[Run] | None, epoch: int | None
    ) -> bool:
        """Start `run`, or have it wait, if the overlap policy lets it; False when it is
        to be skipped. Submits the run's first write without waiting."""
        admission = self._runs.admission(automation)
        if admission is None:
            return False
        key, wait = admission
        phase = Phase.WAITING if wait else Phase.STARTING
        self._start(automation, run, reply, phase=phase, writer_key=key, epoch=epoch)
        return True

    async def _skip(self, run: Run, reply: Reply[Run] | None, epoch: int | None) -> None:
        holder = self._runs.holder()  # before any await: the runs going on now
        if reply is not None:
            await answer(reply, self._record_skipped(run, None, holder))
        else:
            with contextlib.suppress(AutomationError):  # a slot fired elsewhere, say
                await self._record_skipped(run, epoch, holder)

    def _record_skipped(
        self, run: Run, epoch: int | None, holder: KeyHolder | None
    ) -> Awaitable[Run]:
        services = self._services
        return record_skipped(services.store, services.scope, services.now(), run, epoch, holder)


async def answer(reply: Reply[T], work: Awaitable[T]) -> None:
    """Await `work` and send its result, or the AutomationError it raised."""
    try:
        reply.send(await work)
    except AutomationError as exc:
        reply.fail(exc)
