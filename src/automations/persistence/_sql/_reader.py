"""The reader port's queries, for a store that can run a function of an `Sql`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Literal, TypeVar

from ...model import Automation, Run, Scope, Worker, to_ms
from .._commands import CommandOutcome, PendingCommand
from .._journal import JournalEntry, Page
from .._leases import LeaseRow
from . import _queries as q
from ._command_writes import command_outcome, command_scopes, pending_commands
from ._connection import Sql
from ._lease_writes import lease_row, lease_rows
from ._projection import journal_entries
from ._worker_writes import live_workers

__all__ = ["SqlReader"]

T = TypeVar("T")


class SqlReader(ABC):
    """Every query of `ReaderPort`; a store's reader says how one runs (`query`)."""

    @abstractmethod
    async def query(self, read: Callable[[Sql], T]) -> T:
        """Run `read` with a connection of the pool, in a worker thread."""

    async def automation(self, scope: Scope, id: str) -> Automation | None:
        return await self.query(lambda s: q.get_automation(s, scope, id))

    async def automations(self, scope: Scope) -> list[Automation]:
        return await self.query(lambda s: q.list_automations(s, scope))

    async def automations_by_ids(self, scope: Scope, ids: Iterable[str]) -> list[Automation]:
        """Those of `ids` that exist in `scope`, in no particular order."""
        wanted = list(ids)
        return await self.query(lambda s: q.automations_by_ids(s, scope, wanted))

    async def automation_by_key(self, scope: Scope, key: str) -> Automation | None:
        return await self.query(lambda s: q.automation_by_key(s, scope, key))

    async def run_by_id(self, scope: Scope, id: str) -> Run | None:
        return await self.query(lambda s: q.get_run(s, scope, id))

    async def runs(
        self, scope: Scope, automation_id: str, *, limit: int, cursor: str | None
    ) -> Page:
        return await self.query(lambda s: q.runs_page(s, scope, automation_id, limit, cursor))

    async def journal(self, scope: Scope, after: int, limit: int) -> list[JournalEntry]:
        return await self.query(lambda s: q.scoped_journal(s, scope, after, limit))

    async def run_history(self, scope: Scope, run_id: str) -> list[tuple[datetime, Run]]:
        return await self.query(lambda s: q.run_history(s, scope, run_id))

    async def last_seq(self, scope: Scope | None = None) -> int:
        """The journal's last sequence number, of every scope or of one."""
        if scope is None:
            return await self.query(q.last_seq)
        return await self.query(lambda s: q.last_scoped_seq(s, scope))

    async def all_journal(self, after: int, limit: int) -> list[JournalEntry]:
        """Entries of every scope after `after` (the journal follower's view)."""
        return await self.query(lambda s: journal_entries(s, after, limit))

    async def executed_runs(self, scope: Scope, automation_id: str) -> int:
        return await self.query(lambda s: q.count_executed(s, scope, automation_id))

    async def owners(self, scope: Scope) -> list[str]:
        """Processes that own active runs of `scope` (for reconciliation)."""
        return await self.query(lambda s: q.active_owners(s, scope))

    async def owners_by_scope(self) -> dict[Scope, list[str]]:
        return await self.query(q.active_owners_by_scope)

    async def run_owner(self, scope: Scope, run_id: str) -> str | None:
        """The process executing an active run; None when it is not active."""
        return await self.query(lambda s: q.owner_of(s, scope, run_id))

    async def commands(
        self, scope: Scope, after: int, owner: str, *, leading: bool, limit: int
    ) -> list[PendingCommand]:
        return await self.query(lambda s: pending_commands(s, scope, after, owner, leading, limit))

    async def command_scopes(self, after: int, upto: int) -> list[Scope]:
        return await self.query(lambda s: command_scopes(s, after, upto))

    async def command_outcome(self, id: int) -> CommandOutcome | None:
        """None while pending; `LookupError` when the command is gone."""
        return await self.query(lambda s: command_outcome(s, id))

    async def scopes(self) -> list[tuple[Scope, int]]:
        return await self.query(q.automation_scopes)

    async def ids_with_prefix(
        self, scope: Scope, kind: Literal["automation", "run"], prefix: str, limit: int
    ) -> list[str]:
        return await self.query(lambda s: q.ids_with_prefix(s, scope, kind, prefix, limit))

    async def lease(self, lease: str) -> LeaseRow | None:
        """The row of the lease named `lease`: who holds it, at which epoch, last
        renewed when."""
        return await self.query(lambda s: lease_row(s, lease))

    async def leases(self) -> dict[str, LeaseRow]:
        """Every lease row (the scopes' and the shards'), by name."""
        return await self.query(lease_rows)

    async def checkpoint(self, run_id: str) -> bytes | None:
        """The latest checkpoint of a run (JSON), if it saved one."""
        return await self.query(lambda s: q.latest_checkpoint(s, run_id))

    async def answer(self, scope: Scope, run_id: str, blocker_id: str) -> bytes | None:
        """The stored answer to a blocker (JSON), if there is one."""
        return await self.query(lambda s: q.stored_answer(s, scope, run_id, blocker_id))

    async def due(self, scope: Scope, until_ms: int, limit: int) -> list[tuple[str, int]]:
        """(id, next fire) of automations due by `until_ms`, soonest first."""
        return await self.query(lambda s: q.due_automations(s, scope, until_ms, limit))

    async def due_in_shards(
        self, shards: Sequence[int], until_ms: int, limit: int
    ) -> list[tuple[Scope, str, int]]:
        return await self.query(lambda s: q.due_in_shards(s, shards, until_ms, limit))

    async def shard_scopes(self, shards: Sequence[int]) -> list[Scope]:
        return await self.query(lambda s: q.shard_scopes(s, shards))

    async def workers(self, at: datetime) -> list[Worker]:
        """The workers whose heartbeat has not expired at `at`, by id."""
        at_ms = to_ms(at)
        return await self.query(lambda s: live_workers(s, at_ms))
