"""Reads on a `psycopg_pool` pool, each in a worker thread so the event loop never
blocks (psycopg's synchronous API: the runtime runs on asyncio and on trio)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal, TypeVar

import anyio
import psycopg
import psycopg_pool

from ...model import Automation, Run, Scope, StorageError
from .._commands import CommandOutcome, PendingCommand
from .._journal import JournalEntry, Page
from .._leases import LeaseRow
from .._sql import command_outcome, journal_entries, lease_row, pending_commands
from . import _queries as q
from ._connection import CONNECT_TIMEOUT_S, KEEPALIVES, Connection, redacted, storage_error
from ._sql import PostgresSql

__all__ = ["Reader"]

T = TypeVar("T")

POOL_SIZE = 8


def _read_only(connection: Connection) -> None:
    """The server refuses any write on this connection."""
    connection.execute("SET default_transaction_read_only = on")


class Reader:
    """A pool of autocommit connections; each query runs in a worker thread."""

    def __init__(self, dsn: str, *, read_only: bool = False) -> None:
        self._dsn = dsn
        self._pool: psycopg_pool.ConnectionPool[Connection] = psycopg_pool.ConnectionPool(
            dsn,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={
                "autocommit": True,
                "connect_timeout": CONNECT_TIMEOUT_S,
                "application_name": "automations-reader",
                **KEEPALIVES,
            },
            open=False,
            name="automations-readers",
            configure=_read_only if read_only else None,
        )

    def open(self) -> None:
        """Open the pool (blocking): its first connection is made before this returns."""
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except psycopg_pool.PoolTimeout:
            self._pool.close()
            raise StorageError(f"cannot connect to PostgreSQL at {redacted(self._dsn)}") from None

    def close(self) -> None:
        self._pool.close()

    async def run(self, query: Callable[[Connection], T]) -> T:
        """Run `query` with a pooled connection in a worker thread."""
        return await anyio.to_thread.run_sync(self.run_sync, query)

    def run_sync(self, query: Callable[[Connection], T]) -> T:
        try:
            with self._pool.connection() as connection:
                return query(connection)
        except psycopg_pool.PoolTimeout as exc:
            raise StorageError(f"no free connection to {redacted(self._dsn)}: {exc}") from None
        except psycopg.Error as exc:
            raise storage_error(exc, self._dsn) from exc

    # -- the ReaderPort -----------------------------------------------------------

    async def automation(self, scope: Scope, id: str) -> Automation | None:
        return await self.run(lambda c: q.get_automation(c, scope, id))

    async def automations(self, scope: Scope) -> list[Automation]:
        return await self.run(lambda c: q.list_automations(c, scope))

    async def automations_by_ids(self, scope: Scope, ids: Iterable[str]) -> list[Automation]:
        wanted = list(ids)
        return await self.run(lambda c: q.automations_by_ids(c, scope, wanted))

    async def automation_by_key(self, scope: Scope, key: str) -> Automation | None:
        return await self.run(lambda c: q.automation_by_key(c, scope, key))

    async def run_by_id(self, scope: Scope, id: str) -> Run | None:
        return await self.run(lambda c: q.get_run(c, scope, id))

    async def runs(
        self, scope: Scope, automation_id: str, *, limit: int, cursor: str | None
    ) -> Page:
        return await self.run(lambda c: q.runs_page(c, scope, automation_id, limit, cursor))

    async def journal(self, scope: Scope, after: int, limit: int) -> list[JournalEntry]:
        return await self.run(lambda c: q.scoped_journal(c, scope, after, limit))

    async def run_history(self, scope: Scope, run_id: str) -> list[tuple[datetime, Run]]:
        return await self.run(lambda c: q.run_history(c, scope, run_id))

    async def last_seq(self, scope: Scope | None = None) -> int:
        if scope is None:
            return await self.run(q.last_seq)
        return await self.run(lambda c: q.last_scoped_seq(c, scope))

    async def all_journal(self, after: int, limit: int) -> list[JournalEntry]:
        return await self.run(lambda c: journal_entries(PostgresSql(c), after, limit))

    async def executed_runs(self, scope: Scope, automation_id: str) -> int:
        return await self.run(lambda c: q.count_executed(c, scope, automation_id))

    async def owners(self, scope: Scope) -> list[str]:
        return await self.run(lambda c: q.active_owners(c, scope))

    async def run_owner(self, scope: Scope, run_id: str) -> str | None:
        return await self.run(lambda c: q.owner_of(c, scope, run_id))

    async def commands(
        self, scope: Scope, after: int, owner: str, *, leading: bool, limit: int
    ) -> list[PendingCommand]:
        return await self.run(
            lambda c: pending_commands(PostgresSql(c), scope, after, owner, leading, limit)
        )

    async def command_outcome(self, id: int) -> CommandOutcome | None:
        return await self.run(lambda c: command_outcome(PostgresSql(c), id))

    async def scopes(self) -> list[tuple[Scope, int]]:
        return await self.run(q.automation_scopes)

    async def ids_with_prefix(
        self, scope: Scope, kind: Literal["automation", "run"], prefix: str, limit: int
    ) -> list[str]:
        return await self.run(lambda c: q.ids_with_prefix(c, scope, kind, prefix, limit))

    async def lease(self, scope: Scope) -> LeaseRow | None:
        return await self.run(lambda c: lease_row(PostgresSql(c), scope))

    async def checkpoint(self, run_id: str) -> bytes | None:
        return await self.run(lambda c: q.latest_checkpoint(c, run_id))

    async def answer(self, scope: Scope, run_id: str, blocker_id: str) -> bytes | None:
        return await self.run(lambda c: q.stored_answer(c, scope, run_id, blocker_id))

    async def due(self, scope: Scope, until_ms: int, limit: int) -> list[tuple[str, int]]:
        return await self.run(lambda c: q.due_automations(c, scope, until_ms, limit))
