"""The runs of one automation that are not over, and the overlap policy between them.

A run is *active* (started, or starting), *waiting* (recorded `scheduled`, to start
when the active ones end: `buffer_one`, `cancel_other`) or *claimed* (recorded ahead
of its slot, admitted when the slot comes, see `SlotStarts`) or *retrying* (a failed
run's next attempt, recorded `scheduled` until it is due, see `_retries`). A chain of
attempts is one logical run to the overlap policy: while a retry waits, the automation
is busy, and the retry, when due, goes on without asking the policy. The policy looks at
them on the event loop, without awaiting, so a decision and the bookkeeping that
follows it cannot be split by another message of the same automation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..model import Automation, KeyHolder, Overlap, StopReason, Trigger, to_ms
from ._run_actor import RunActor
from ._run_phase import Phase
from ._slot_starts import SlotStarts

__all__ = ["Admission", "GoingRuns"]

Admission = tuple[str | None, bool]
"""The writer key a run holds once it runs, and whether it waits for the runs going
on (which a superseding run stops)."""


class GoingRuns:
    """Active, waiting and claimed runs of one automation."""

    __slots__ = (
        "_held",
        "_slot_starts",
        "active",
        "claimed",
        "definition",
        "retrying",
        "waiting",
    )

    def __init__(self, slot_starts: SlotStarts) -> None:
        self._slot_starts = slot_starts
        self.definition: Callable[[], Automation | None] = lambda: None
        """The definition as the automation's current activation knows it."""
        self.active: dict[str, RunActor] = {}
        self.waiting: list[RunActor] = []
        self.claimed: dict[str, RunActor] = {}
        """A refused claimed run stays here until its end is recorded."""
        self.retrying: dict[str, RunActor] = {}
        """Retries waiting until they are due; one stopped meanwhile stays until it ends."""
        self._held: list[RunActor] | None = None
        """While a pause is being written: the claimed runs and retries whose time came
        meanwhile, held back until the pause is known committed (then stopped) or
        failed (then admitted, late)."""

    def __len__(self) -> int:
        return len(self.active) + len(self.waiting) + len(self.claimed) + len(self.retrying)

    def all(self) -> list[RunActor]:
        return [
            *self.active.values(),
            *self.waiting,
            *self.claimed.values(),
            *self.retrying.values(),
        ]

    def counted(self) -> int:
        """The runs going on that a count stop will count: not retries, whose chain
        counts once, by its first run."""
        return sum(1 for actor in self.all() if actor.run.trigger is not Trigger.RETRY)

    def busy(self) -> bool:
        """Whether a run starting now overlaps one going on. A run whose end is
        submitted is over: writes commit in order, so the next one's start is
        recorded after that end."""
        if self.waiting or self.retrying:
            return True
        return any(not run.ended for run in self.active.values())

    def admission(self, automation: Automation) -> Admission | None:
        """How a run starting now goes by the overlap policy; None when it is to be
        skipped. Under `cancel_other` this stops the runs going on."""
        policy = automation.overlap
        key = automation.writer_key
        if policy is Overlap.ALLOW:  # no need to look at the runs going on
            return None, False
        if not self.busy():
            return key, False
        if policy is Overlap.BUFFER_ONE and not self.waiting:
            return key, True
        if policy is Overlap.CANCEL_OTHER:
            going = [*self.active.values(), *self.waiting, *self.retrying.values()]
            _stop(going, StopReason.SUPERSEDED)
            return key, True
        return None

    def holder(self) -> KeyHolder | None:
        """The run a run refused now would be skipped for: the first going on."""
        for actor in [*self.active.values(), *self.waiting, *self.retrying.values()]:
            if not actor.ended:
                return actor.holder
        return None

    def add(self, actor: RunActor, *, wait: bool) -> None:
        if wait:
            self.waiting.append(actor)
        else:
            self.active[actor.id] = actor

    def stop_all(self, reason: StopReason) -> list[RunActor]:
        """Ask every run going on to stop; the runs asked."""
        return _stop(self.all(), reason)

    def stop_claimed(self, reason: StopReason) -> list[RunActor]:
        """Ask the runs recorded ahead of their slot, and the retries waiting, to stop
        (the automation was paused)."""
        return _stop([*self.claimed.values(), *self.retrying.values()], reason)

    def forget(self, run_id: str) -> None:
        """A run ended: it is going no more."""
        self.active.pop(run_id, None)
        self.claimed.pop(run_id, None)
        self.retrying.pop(run_id, None)
        self.waiting = [w for w in self.waiting if w.id != run_id]

    def start_waiting(self) -> None:
        """Once no run is active nor a retry waiting, the first waiting one starts."""
        if not self.active and not self.retrying and self.waiting:
            nxt = self.waiting.pop(0)
            self.active[nxt.id] = nxt
            nxt.start()

    # -- runs recorded ahead of their slot ------------------------------------------

    def claim(self, actor: RunActor) -> None:
        """Hold a run recorded ahead of its slot; the overlap policy decides at the slot,
        against the definition as it is then."""
        self.claimed[actor.id] = actor
        self._slot_starts.add(to_ms(actor.run.starts_at), self._slot_came, actor)

    def hold_back(self) -> None:
        """A pause is being written: a claimed run or retry whose time comes meanwhile
        waits for its outcome (`let_go`) instead of starting."""
        self._held = []

    def let_go(self) -> None:
        """The pause is committed (its runs are stopped already) or failed: what was held
        back goes on, each looked at again as its time (past now) comes."""
        held, self._held = self._held or [], None
        for actor in held:
            if actor.id in self.claimed:
                self.claim(actor)
            elif actor.id in self.retrying:
                self.hold_retry(actor)

    def _slot_came(self, now: datetime, actor: RunActor) -> None:
        automation = self.definition()
        if self.claimed.get(actor.id) is not actor or actor.stopping:
            return  # ended, or stopped meanwhile (deleted, shut down): it ends from `claimed`
        if actor.phase is not Phase.CLAIMED:
            return  # its record failed (its slot fired elsewhere): it is over
        if self._held is not None:
            self._held.append(actor)
            return
        if now > actor.run.starts_at + actor.automation.catchup_window:
            # Its slot's catch-up window is over (this process stalled): it ends from `claimed`.
            actor.request_stop(StopReason.EXPIRED)
            return
        admission = None if automation is None else self.admission(automation)
        if admission is None:  # refused: it ends as skipped, from `claimed`
            reason = StopReason.PREVIOUS_RUN_AWAITING_INPUT
            actor.request_stop(reason, held_by=self.holder())
            return
        del self.claimed[actor.id]
        key, wait = admission
        self.add(actor, wait=wait)
        actor.admit(key, wait=wait, at=now)

    # -- retries --------------------------------------------------------------------

    def hold_retry(self, actor: RunActor) -> None:
        """Hold a failed run's next attempt until it is due (`triggered_at`)."""
        self.retrying[actor.id] = actor
        self._slot_starts.add(to_ms(actor.run.triggered_at), self._retry_due, actor)

    def _retry_due(self, now: datetime, actor: RunActor) -> None:
        if self.retrying.get(actor.id) is not actor or actor.stopping:
            return  # stopped meanwhile (cancelled, superseded, paused): it ends from here
        if actor.phase is not Phase.CLAIMED:
            return  # left `scheduled` as the process closes, for the next lease holder
        if self._held is not None:
            self._held.append(actor)
            return
        automation = self.definition()
        if automation is None:  # deleted meanwhile
            actor.request_stop(StopReason.CANCELLED)
            return
        del self.retrying[actor.id]
        key = None if automation.overlap is Overlap.ALLOW else automation.writer_key
        self.add(actor, wait=False)
        actor.admit(key, wait=False, at=now)


def _stop(runs: list[RunActor], reason: StopReason) -> list[RunActor]:
    """Decide `reason` for each run and let a deferred one go on to record it."""
    for run in runs:
        run.request_stop(reason)
    return runs
