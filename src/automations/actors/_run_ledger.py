"""The writes of one run to the journal, in order.

A run writes one transition at a time and builds each on the last durable one; the
store commits writes in the order they were submitted, so a transition may be
submitted before the one it follows is durable. The counters an executor moves
(steps, cost, session) ride along on every revision.
"""

from __future__ import annotations

from datetime import datetime

import anyio

from ..model import (
    Blocker,
    DuplicateSlot,
    KeyHolder,
    LeaseLost,
    Run,
    RunState,
    Scope,
    WriterKeyBusy,
    advance,
    as_instant,
)
from ..persistence import CreateRun, PendingWrite, SaveRun, StorePort
from ..runtime import Clock, Reply
from ._observer import RunTrace
from ._records import fail_reply, record_skipped
from ._run_phase import Decision, decided

__all__ = ["RunLedger"]


class RunLedger:
    """The last durable revision of a run, and the writes that build on it."""

    __slots__ = (
        "_clock",
        "_heading",
        "_owner",
        "_scope",
        "_store",
        "_written",
        "cost",
        "epoch",
        "run",
        "session_id",
        "steps",
        "trace",
        "writer_key",
        "writing",
    )

    def __init__(
        self,
        store: StorePort,
        scope: Scope,
        owner: str,
        clock: Clock,
        run: Run,
        *,
        writer_key: str | None,
        epoch: int | None,
    ) -> None:
        self._store = store
        self._scope = scope
        self._owner = owner
        self._clock = clock
        self.run = run
        """The last revision known durable (or, before the first write, the first)."""
        self.writer_key = writer_key
        """Held while the run is active: one active run per key (DESIGN 6.5)."""
        self.epoch = epoch
        """The lease epoch a fired run's first write is fenced with."""
        self.steps = run.steps  # an adopted run goes on counting
        self.cost: float | None = run.cost
        self.session_id = run.session_id
        self.writing = False
        """A transition is submitted and not yet settled."""
        self._written: anyio.Event | None = None
        self._heading: RunState | None = None
        self.trace: RunTrace | None = None
        """The observer's view of the executor's call, while it goes on."""

    def submit_first(self, *, start: bool, hold_key: bool) -> PendingWrite[list[int]]:
        """Record the run `scheduled` (holding its writer key if `hold_key`) and, when it
        can `start` at once, `running` in the same operation: the executor starts
        once both are durable, and if either fails neither is recorded."""
        run = self.run
        revisions: tuple[Run, ...] = (run,)
        at: tuple[datetime, ...] = (run.triggered_at,)
        if start:
            now = self.now()
            started = advance(run, RunState.RUNNING, at=now, session_id=self.session_id)
            revisions, at = (run, started), (run.triggered_at, now)
        key = self.writer_key if hold_key else None
        first = CreateRun(self._scope, revisions, at, key, self._owner, self.epoch)
        return self._store.submit(first)

    def first_recorded(self, first: PendingWrite[list[int]]) -> None:
        """The first write is durable: the run is as its last revision says."""
        operation = first.operation
        assert isinstance(operation, CreateRun)
        self.run = operation.revisions[-1]

    async def first_outcome(
        self, first: PendingWrite[list[int]], reply: Reply[Run] | None
    ) -> bool | None:
        """Wait for the first write and answer `reply`: True when the run goes on, False
        when it was recorded skipped instead (its writer key was busy), None when it
        was not recorded (its slot has its run, or the lease is not ours)."""
        try:
            await first.outcome()
        except (DuplicateSlot, LeaseLost) as exc:
            fail_reply(reply, exc)
            return None
        except WriterKeyBusy as busy:
            try:
                skipped = await self.record_skipped(busy.holder)
            except BaseException as exc:
                fail_reply(reply, exc)
                raise
            if reply is not None:
                reply.send(skipped)
            return False
        except BaseException as exc:
            fail_reply(reply, exc)
            raise
        if reply is not None:
            reply.send(self.run)  # as scheduled
        self.first_recorded(first)
        return True

    async def record_skipped(self, holder: KeyHolder | None) -> Run:
        """The first write was refused for the writer key `holder` holds: record the
        run as skipped instead (its executor is never called)."""
        self.run = await record_skipped(
            self._store, self._scope, self.now(), self.run, self.epoch, holder
        )
        return self.run

    def submit(
        self,
        state: RunState,
        *,
        blocker: Blocker | None = None,
        fenced: bool = False,
        at: datetime | None = None,
    ) -> PendingWrite[int]:
        """Submit the next, non-terminal, revision (made `at` that time, or now);
        `settle()` must follow. A `fenced` one carries the epoch the run was fired
        under: a deposed holder starts no slot."""
        at = self.now() if at is None else at
        nxt = advance(
            self.run,
            state,
            at=at,
            blocker=blocker,
            steps=self.steps,
            cost=self.cost,
            session_id=self.session_id,
        )
        return self._save(nxt, at, epoch=self.epoch if fenced else None)

    def submit_end(self, decision: Decision, *, unanswered: str | None = None) -> PendingWrite[int]:
        """Submit the terminal revision `decision` records; `settle()` must follow.
        With `unanswered`, the store refuses it (`BlockerAnswered`) if that blocker has
        a stored answer."""
        at = self.now()
        end = decided(
            self.run, decision, at=at, steps=self.steps, cost=self.cost, session_id=self.session_id
        )
        return self._save(end, at, unanswered=unanswered)

    def submit_retry(self, retry: Run, end: SaveRun) -> PendingWrite[list[int]]:
        """Record the run's next attempt, `scheduled` until it is due, if `end`, its
        end, is recorded with it; owned by this process and fenced by the epoch this
        run was fired under (none once the lease was handed over: see `unfence`)."""
        at, after = self.now(), (end.run.id, end.run.revision)
        operation = CreateRun(
            self._scope, (retry,), (at,), None, self._owner, self.epoch, after=after
        )
        return self._store.submit(operation)

    def unfence(self) -> None:
        """The scope's lease went to another worker while this process lives on: the
        run goes on here, its start (behind the runs going on here) and its next
        attempt no longer fenced; the attempt goes to the scope's holder once held
        (`Supervisor._hand_over_late`)."""
        self.epoch = None

    def _save(
        self, nxt: Run, at: datetime, *, epoch: int | None = None, unanswered: str | None = None
    ) -> PendingWrite[int]:
        self.writing, self._heading = True, nxt.state
        key, owner = self.writer_key, self._owner
        operation = SaveRun(self._scope, nxt, self.run.revision, at, key, owner, epoch, unanswered)
        return self._store.submit(operation)

    def now(self) -> datetime:
        """The runtime's clock, as the model's instants."""
        return as_instant(self._clock.now())

    def holder(self) -> KeyHolder:
        """What a run skipped for this one names: its state once what it submitted has
        committed, as it will have when the skip commits (submission order)."""
        run = self.run
        state = self._heading or run.state
        return KeyHolder(run_id=run.id, automation_id=run.automation_id, state=state)

    @property
    def blocked(self) -> bool:
        """The run waits on a blocker, or the write that makes it wait is in flight (its
        waiters may have heard of it already: listeners hear a commit first)."""
        return RunState.AWAITING_INPUT in (self.run.state, self._heading)

    async def transition(self, state: RunState, *, blocker: Blocker | None = None) -> None:
        """Write the next revision durably; it is the run's from then on."""
        await self.durable(self.submit(state, blocker=blocker))

    async def durable(self, pending: PendingWrite[int]) -> None:
        try:
            await pending.outcome()
        finally:
            self.settle(pending)

    def settle(self, pending: PendingWrite[int]) -> None:
        """A submitted revision is done: durable (the run's from now on) or refused."""
        if pending.error is None and pending.done:
            operation = pending.operation
            assert isinstance(operation, SaveRun)
            self.run = operation.run
        self.writing, self._heading = False, None
        written, self._written = self._written, None
        if written is not None:
            written.set()

    async def wait_settled(self) -> None:
        """Wait until no transition is in flight (the grace watcher ends a run whose
        executor is stuck, perhaps while it writes)."""
        while self.writing:
            self._written = self._written or anyio.Event()
            await self._written.wait()
