"""`Runtime`: the facade an application holds.

Reads go straight to the store; every change to an automation goes through its actor;
answers are stored durably before they are delivered; events are read back from the
journal and then followed live, so a subscriber never misses one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

from ._arguments import camel, check_retention, overlap_of
from ._backfill import Progress, run_backfill
from ._client import SERVED_CHECK_SECONDS, CommandSender
from ._event_stream import EventStream
from ._keyed import create_keyed
from .actors import (
    AutomationMessage,
    BackfillSlot,
    Delete,
    RunNow,
    Services,
    ShutdownReport,
    Supervisor,
    Update,
    holder_alive,
    is_led,
    live_workers,
    record_stopped,
)
from .model import (
    Automation,
    AutomationPatch,
    BackfillReport,
    Conflict,
    NewAutomation,
    NotFound,
    Overlap,
    Pruned,
    Run,
    RunState,
    Scope,
    StopReason,
    StoreClosed,
    Tombstone,
    ValidationError,
    Worker,
    check_reply,
    from_builtins,
    new_automation_id,
)
from .persistence import (
    Page,
    StoreAnswer,
    StorePort,
)
from .runtime import MailboxClosed, Reply
from .schedules import backfill_slots, build_automation

if TYPE_CHECKING:
    from .telemetry import Metrics

__all__ = ["History", "Runtime", "check_retention"]

T = TypeVar("T")
MAX_PAGE = 500
History = list[tuple[datetime, Run]]
"""A run's revisions, oldest first, each with the time it was written."""


class Runtime:
    """One runtime: a scope (project, directory) on one database file."""

    def __init__(self, services: Services, supervisor: Supervisor) -> None:
        self._services = services
        self._supervisor = supervisor
        self.scope = services.scope
        self.metrics: Metrics | None = None
        """The metrics it was opened with (the HTTP app serves them at `/metrics`)."""
        self._sender = CommandSender(
            services.store, services.scope, services.owner, services.now, supervisor.follower
        )

    @property
    def _store(self) -> StorePort:
        return self._services.store

    @property
    def shutdown_report(self) -> ShutdownReport | None:
        """Once the runtime is closed: the runs its close left for the next worker
        (waiting on a question, resumable) and how it ended the others."""
        return self._supervisor.report

    # -- definitions ---------------------------------------------------------------

    async def create(self, new: NewAutomation) -> Automation:
        """Validate and store a new automation; `ValidationError` lists every problem.
        With `new.key`, creating again returns the automation of that key (`Conflict`
        if its definition differs)."""
        if isinstance(new, NewAutomation) and new.key is not None:
            self.preview(new)  # every problem said first, before the key is looked up
            return await create_keyed(self._store.reader, self.scope, new, self._create)
        return await self._create(new)

    async def _create(self, new: NewAutomation) -> Automation:
        automation = self.preview(new)
        await self._store.create_automation(self.scope, automation)
        return automation

    async def create_many(self, news: Iterable[NewAutomation]) -> list[Automation]:
        """Create many automations in one transaction: all of them, or none."""
        now = self._services.now()  # one transaction, one creation time
        automations = [self.preview(new, now) for new in news]
        await self._store.create_automations(self.scope, automations)
        return automations

    def preview(self, new: NewAutomation, now: datetime | None = None) -> Automation:
        """What `create` would store (next fires included), storing nothing."""
        if not isinstance(new, NewAutomation):
            raise ValidationError([("$", "expected a NewAutomation")])
        services = self._services
        return build_automation(
            new,
            id=new_automation_id(),
            project=self.scope.project,
            now=services.now() if now is None else now,
            min_interval=services.min_interval,
            catalog=services.catalog,
        )

    async def update(
        self, automation_id: str, *, expected_revision: int | None = None, **changes: Any
    ) -> Automation:
        """Change the fields given (Python names: `step_cap=5`); a change that changes
        nothing returns it unchanged."""
        wire = {camel(name): value for name, value in changes.items()}
        patch = from_builtins(wire, AutomationPatch, unknown="unsupported_automation_field")
        return await self._ask_automation(
            automation_id, lambda reply: Update(patch, expected_revision, reply)
        )

    async def pause(self, automation_id: str) -> Automation:
        return await self.update(automation_id, paused=True)

    async def resume(self, automation_id: str) -> Automation:
        return await self.update(automation_id, paused=False)

    async def delete(self, automation_id: str) -> Tombstone:
        """Stop its active runs (`cancelled`) and delete it; its runs stay in the ledger."""
        return await self._ask_automation(automation_id, Delete)

    async def get(self, automation_id: str) -> Automation:
        automation = await self._store.reader.automation(self.scope, automation_id)
        if automation is None:
            raise NotFound(f"no automation {automation_id} in this project and directory")
        return automation

    async def list(self) -> list[Automation]:
        """Every automation of this scope, newest update first."""
        return await self._store.reader.automations(self.scope)

    # -- runs ----------------------------------------------------------------------

    async def run_now(self, automation_id: str) -> Run:
        """Start a run at once; returns it as soon as it is durably `scheduled` (or
        recorded as skipped by the overlap policy).

        In a client, the worker serving this scope starts it (`NotServed` if none does).
        """
        if self._services.role == "client":
            await self.get(automation_id)  # NotFound here, before asking anyone
            return await self._sender.run_now(automation_id)
        return await self._ask_automation(automation_id, RunNow)

    async def backfill(
        self,
        automation_id: str,
        start: datetime,
        end: datetime,
        *,
        overlap: Overlap | str | None = None,
        progress: Progress | None = None,
    ) -> BackfillReport:
        """Run each past slot `s` of the automation with `start <= s < end` that has no
        run yet (DST rules applied), oldest first, one at a time: each is a run with
        `trigger="backfill"`, unattended, through the overlap policy (the automation's,
        or `overlap`), and the next slot waits for its end. `progress` hears the report
        so far after each slot. At most `MAX_BACKFILL_SLOTS` slots per call; a range
        reaching past now is refused (`ValidationError`). In a client, the worker
        serving the scope runs them (`NotServed` if none does)."""
        policy = None if overlap is None else overlap_of(overlap)
        automation = await self.get(automation_id)
        slots = backfill_slots(automation, start, end, now=self._services.now())

        async def launch(slot: datetime) -> Run:
            if self._services.role == "client":
                return await self._sender.backfill(automation_id, slot, policy)
            return await self._ask_automation(
                automation_id, lambda reply: BackfillSlot(slot, reply, policy)
            )

        async def wait_end(run_id: str) -> Run:
            """The end of the run's chain: a failed run's retry is waited for too, so
            the next slot never competes with it under the overlap policy."""
            run = await self.wait(run_id, until=RunState.SUCCEEDED)  # or any other end
            while run.state is RunState.FAILED and (retry := await self._retry_of(run)):
                run = await self.wait(retry.id, until=RunState.SUCCEEDED)
            return run

        return await run_backfill(slots, launch, wait_end, progress)

    async def _retry_of(self, run: Run) -> Run | None:
        """The next attempt recorded with `run`'s end, if any (the newest runs: it is
        due after every slot a backfill runs)."""
        first = run.retry_of or run.id
        page = await self._store.reader.runs(self.scope, run.automation_id, limit=20, cursor=None)
        return next(
            (r for r in page.items if r.retry_of == first and r.attempt == run.attempt + 1), None
        )

    async def get_run(self, run_id: str) -> Run:
        run = await self._store.reader.run_by_id(self.scope, run_id)
        if run is None:
            raise NotFound(f"no run {run_id} in this project and directory")
        return run

    async def run_history(self, run_id: str) -> History:
        """The run's timeline: each revision the journal holds, oldest first, with the
        time it was written (`NotFound` for a run not in this scope)."""
        history = await self._store.reader.run_history(self.scope, run_id)
        if not history:
            await self.get_run(run_id)  # NotFound, or its entries were pruned
        return history

    async def runs(self, automation_id: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Runs of an automation, newest first; pass `page.next_cursor` for the next page."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError([("limit", f"limit_out_of_range_1_{MAX_PAGE}")])
        return await self._store.reader.runs(self.scope, automation_id, limit=limit, cursor=cursor)

    async def wait(
        self,
        run_id: str,
        *,
        until: RunState = RunState.SUCCEEDED,
        timeout: float | None = None,  # noqa: ASYNC109 - DESIGN 4 names the bound `timeout=`
        newer_than: int = 0,
    ) -> Run:
        """The run as soon as it is in `until` or in a terminal state (check `.state`).

        `newer_than` skips revisions up to that number, to wait for the *next* blocker
        after answering one. Raises `TimeoutError` after `timeout` seconds of real time,
        and in a client `NotServed` once the run's worker is gone and no worker serves
        the scope (it would wait for ever).
        """

        def wanted(run: Run) -> bool:
            return run.revision > newer_than and (run.state is until or run.state.is_terminal)

        # A client looks now and then whether a worker serves the run (NotServed if
        # none does); a worker reconciles a dead owner's runs itself.
        check = SERVED_CHECK_SECONDS if self._services.role == "client" else None
        with self._services.hub.watch_run(run_id, wanted) as watch, anyio.fail_after(timeout):
            run = await self.get_run(run_id)
            while not wanted(run):
                with anyio.move_on_after(check) as waited:
                    run = await watch.after(run.revision)
                if waited.cancelled_caught:
                    await self._sender.check_run_served(run)
            return run

    async def answer(self, run_id: str, blocker_id: str, reply: str | bool) -> None:
        """Answer a blocker: a `str` for a question (one of its options, if it has
        any), a `bool` for a permission. Stored durably, then delivered exactly once.

        Answering again with the same reply changes nothing, even after the run went
        on; a different reply to an answered blocker is a `Conflict`.
        """
        run = await self.get_run(run_id)
        blocker = run.blocker
        if blocker is not None and blocker.id == blocker_id:
            check_reply(blocker.request, reply)
        # Otherwise the store decides: the same answer again (no-op), another answer to
        # an answered blocker (Conflict), or no such open blocker (NotFound).
        services = self._services
        stored = StoreAnswer(
            self.scope, run_id, blocker_id, reply, services.now(), sender=services.owner
        )
        # The store also sends the answer to the process running the run, if not this one.
        if not await self._store.write(stored):
            return  # answered already, identically: delivered once, then
        actor = self._supervisor.runs.get(run_id)
        if actor is not None:
            actor.deliver(blocker_id, reply)

    async def cancel(self, run_id: str) -> Run:
        """Cancel a run, wherever it executes; returns it once it has ended
        (`stopped/cancelled`, or whatever end it reached before the cancel was accepted)."""
        actor = self._supervisor.runs.get(run_id)
        if actor is not None:
            actor.request_stop(StopReason.CANCELLED)
        else:
            while (run := await self.get_run(run_id)).state.is_active:
                owner = await self._store.reader.run_owner(self.scope, run_id)
                if owner is None:
                    continue  # it just ended
                if await holder_alive(self._store, owner):
                    await self._sender.cancel(run, owner)
                    break
                try:  # its process died and nobody reconciled it yet
                    services = self._services
                    return await record_stopped(services.store, services.scope, services.now(), run)
                except Conflict:
                    continue  # the reconciler got there first
            else:
                return run
        return await self.wait(run_id, until=RunState.STOPPED)

    # -- retention -----------------------------------------------------------------

    async def prune(
        self, older_than: timedelta, *, progress: Callable[[Pruned], None] | None = None
    ) -> Pruned:
        """Forget the runs of this scope that ended more than `older_than` ago, and the
        journal entries that no longer decide anything (superseded revisions of
        automations, deleted ones). Active runs and current definitions stay; an
        `events(since=...)` reader sees a gap where entries went. Any role may prune;
        `open_runtime(retention=...)` has the lease holder do it every hour. A long
        sweep calls `progress` with the totals so far after each of its steps."""
        check_retention("olderThan", older_than)
        services = self._services
        return await services.store.prune(self.scope, services.now() - older_than, progress)

    # -- events --------------------------------------------------------------------

    async def served_executors(self) -> frozenset[str] | None:
        """The executors of the worker serving this scope; None when none serves it."""
        return await self._sender.served_executors()

    async def last_event_seq(self) -> int:
        """The sequence number of this scope's latest event, 0 if there is none: pass it
        to `events(since=...)` to see only what happens from now on."""
        return await self._store.reader.last_seq(self.scope)

    def events(self, since: int = 0) -> EventStream:
        """Every event after sequence number `since`: first from the journal, then live.

        Use it with `async for`; close it with `aclose()` or `async with` when you stop
        early (it is also cleaned up when garbage collected).
        """
        services = self._services
        return EventStream(services.hub, services.store.reader, self.scope, since)

    # -- the scope -----------------------------------------------------------------

    async def served(self) -> bool:
        """Whether a worker serves this scope now (holds its scheduler lease)."""
        return await self.leading() or await is_led(self._store, self.scope)

    async def leading(self) -> bool:
        """Whether this runtime holds the scope's scheduler lease (others stand by)."""
        row = await self._store.reader.lease(self._services.lease)
        return row is not None and row.holder == self._services.owner

    async def workers(self) -> Sequence[Worker]:
        """The live worker processes of the database (every scope's), by id: each with
        its capacity, its running runs and the scopes it leads, as of its last
        heartbeat (about a second old at most)."""
        return await live_workers(self._store)

    async def scopes(self) -> Sequence[tuple[Scope, int]]:
        """Each project and directory of the database with automations, and how many."""
        return await self._store.reader.scopes()

    async def ids_starting(self, kind: Literal["automation", "run"], prefix: str) -> Sequence[str]:
        """Up to ten ids of this scope's automations (or runs) starting with `prefix`."""
        return await self._store.reader.ids_with_prefix(self.scope, kind, prefix, 10)

    async def _ask_automation(
        self, automation_id: str, build: Callable[[Reply[T]], AutomationMessage]
    ) -> T:
        try:
            ref = self._supervisor.automation(automation_id)
            return await ref.ask(build)
        except MailboxClosed:
            raise StoreClosed("the runtime is closing; open a new one to go on") from None
