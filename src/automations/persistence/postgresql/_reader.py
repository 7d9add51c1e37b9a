"""Reads on a `psycopg_pool` pool, each in a worker thread so the event loop never
blocks (psycopg's synchronous API: the runtime runs on asyncio and on trio)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import psycopg
import psycopg_pool

from ...model import Scope, StorageError
from .._commands import PendingCommand
from .._sql import Sql, SqlReader, claim_commands
from ._connection import CONNECT_TIMEOUT_S, KEEPALIVES, Connection, redacted, storage_error
from ._sql import PostgresSql

__all__ = ["Reader"]

T = TypeVar("T")

POOL_SIZE = 8


def _read_only(connection: Connection) -> None:
    """The server refuses any write on this connection."""
    connection.execute("SET default_transaction_read_only = on")


class Reader(SqlReader):
    """A pool of autocommit connections; each query runs in a worker thread."""

    def __init__(self, dsn: str, *, read_only: bool = False) -> None:
        self._dsn = dsn
        self._pool: psycopg_pool.ConnectionPool[Connection] = psycopg_pool.ConnectionPool(
            dsn,
            min_size=1,
            max_size=POOL_SIZE,
            timeout=CONNECT_TIMEOUT_S,  # a checkout during an outage fails in 10 s, not 30
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
        """Run `query` in the calling thread."""
        try:
            with self._pool.connection() as connection:
                try:
                    return query(connection)
                except psycopg.OperationalError:
                    if not connection.broken:
                        raise
            # The server closed this pooled connection meanwhile (a restart, a cut
            # link); the pool dropped it as it took it back. A read changes nothing,
            # so it is made once more, on a new connection.
            with self._pool.connection() as connection:
                return query(connection)
        except psycopg_pool.PoolTimeout as exc:
            raise StorageError(f"no free connection to {redacted(self._dsn)}: {exc}") from None
        except psycopg.Error as exc:
            raise storage_error(exc, self._dsn) from exc

    async def commands(
        self, scope: Scope, after: int, owner: str, *, leading: bool, limit: int
    ) -> list[PendingCommand]:
        """The commands for `owner` after id `after`; while it leads, it first claims the
        commands for nobody in particular (`FOR UPDATE SKIP LOCKED`), so that two
        processes that both think they lead (one frozen, say) never take the same one."""
        return await self.run(
            lambda connection: claim_commands(
                PostgresSql(connection), scope, after, owner, leading=leading, limit=limit
            )
        )

    async def query(self, read: Callable[[Sql], T]) -> T:
        return await self.run(lambda connection: read(PostgresSql(connection)))
