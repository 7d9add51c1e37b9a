"""The runs of one automation that are not over, and the overlap policy between them.

A run is *active* (started, or starting), *waiting* (recorded `scheduled`, to start
when the active ones end: `buffer_one`, `cancel_other`) or *claimed* (recorded ahead
of its slot, admitted when the slot comes, see `SlotStarts`). The policy looks at
them on the event loop, without awaiting, so a decision and the bookkeeping that
follows it cannot be split by another message of the same automation.
"""

from __future__ import annotations

from collections.abc import Callable

from ..model import Automation, KeyHolder, Overlap, StopReason, to_ms
from ._run_actor import RunActor
from ._run_phase import Phase
from ._slot_starts import SlotStarts

__all__ = ["Admission", "GoingRuns"]

Admission = tuple[str | None, bool]
"""The writer key a run holds once it runs, and whether it waits for the runs going
on (which a superseding run stops)."""


class GoingRuns:
    """Active, waiting and claimed runs of one automation."""

    __slots__ = ("_slot_starts", "active", "claimed", "definition", "waiting")

    def __init__(self, slot_starts: SlotStarts) -> None:
        self._slot_starts = slot_starts
        self.definition: Callable[[], Automation | None] = lambda: None
        """The definition as the automation's current activation knows it."""
        self.active: dict[str, RunActor] = {}
        self.waiting: list[RunActor] = []
        self.claimed: dict[str, RunActor] = {}
        """A refused claimed run stays here until its end is recorded."""

    def __len__(self) -> int:
        return len(self.active) + len(self.waiting) + len(self.claimed)

    def all(self) -> list[RunActor]:
        return [*self.active.values(), *self.waiting, *self.claimed.values()]

    def busy(self) -> bool:
        """Whether a run starting now overlaps one going on. A run whose end is
        submitted is over: writes commit in order, so the next one's start is
        recorded after that end."""
        return bool(self.waiting) or any(not run.ended for run in self.active.values())

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
            _stop([*self.active.values(), *self.waiting], StopReason.SUPERSEDED)
            return key, True
        return None

    def holder(self) -> KeyHolder | None:
        """The run a run refused now would be skipped for: the first going on."""
        for actor in [*self.active.values(), *self.waiting]:
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
        """Ask the runs recorded ahead of their slot to stop (the automation was paused)."""
        return _stop(list(self.claimed.values()), reason)

    def forget(self, run_id: str) -> None:
        """A run ended: it is going no more."""
        self.active.pop(run_id, None)
        self.claimed.pop(run_id, None)
        self.waiting = [w for w in self.waiting if w.id != run_id]

    def start_waiting(self) -> None:
        """Once no run is active, the first waiting one starts."""
        if not self.active and self.waiting:
            nxt = self.waiting.pop(0)
            self.active[nxt.id] = nxt
            nxt.start()

    # -- runs recorded ahead of their slot ------------------------------------------

    def claim(self, actor: RunActor) -> None:
        """Hold a run recorded ahead of its slot; the overlap policy decides at the slot,
        against the definition as it is then."""
        self.claimed[actor.id] = actor
        self._slot_starts.add(to_ms(actor.run.starts_at), lambda: self._slot_came(actor))

    def _slot_came(self, actor: RunActor) -> None:
        automation = self.definition()
        if self.claimed.get(actor.id) is not actor or actor.stopping:
            return  # ended, or stopped meanwhile (deleted, shut down): it ends from `claimed`
        if actor.phase is not Phase.CLAIMED:
            return  # its record failed (its slot fired elsewhere): it is over
        if actor.past_its_window():  # this process stalled: it ends from `claimed`
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
        actor.admit(key, wait=wait)


def _stop(runs: list[RunActor], reason: StopReason) -> list[RunActor]:
    """Decide `reason` for each run and let a deferred one go on to record it."""
    for run in runs:
        run.request_stop(reason)
    return runs
