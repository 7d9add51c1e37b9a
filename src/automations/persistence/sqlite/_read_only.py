"""The store opened read-only: reads and the change watch, no writer, no lock, no file.

A read-only directory, a read-only file or a backup on a read-only disk can still be
inspected. The file is opened with `mode=ro`; when SQLite cannot use a WAL
database that way (its -shm file is missing and cannot be created), with
`immutable=1`, which then sees the file as it is and no later change. Nothing is
created beside the database, no lock is taken, and every write is refused with a
`StorageError` that says so.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import anyio
import apsw

from ...model import Automation, DatabaseRefused, Pruned, Scope, StorageError, Tombstone
from .._changes import ChangeListener
from .._leases import lease_name
from .._operations import Operation
from .._pending import PendingWrite
from .._port import Durability, WriterStats
from .._transfer import Digest, SideTable, digest, side_rows
from ._connection import connect, read_only_uri
from ._locks import FileLock, lease_lock_path, liveness_lock_path
from ._reader import ChangeWatch, Reader
from ._schema import SCHEMA_VERSION, FileState, inspect
from ._transfer import journal_head, query_of

__all__ = ["ReadOnlyStore", "open_read_only_store"]

T = TypeVar("T")


class ReadOnlyStore:
    """The read half of `SqliteStore`; writes raise `StorageError`."""

    def __init__(self, path: str, durability: Durability, uri: str) -> None:
        self.path = path
        self.durability = durability
        self.uri = uri
        self.reader = Reader(path, durability, uri=uri)
        self.writer_stats = WriterStats()

    @property
    def location(self) -> str:
        return self.path

    def _refuse(self) -> NoReturn:
        raise StorageError(
            f"{self.path} was opened read-only; nothing was written. "
            "Use a command that writes, on a database you can write to."
        )

    def submit(self, operation: Operation[T]) -> PendingWrite[T]:
        self._refuse()

    async def write(self, operation: Operation[T]) -> T:
        self._refuse()

    def together(self) -> AbstractContextManager[None]:
        self._refuse()

    def add_commit_listener(self, listener: ChangeListener) -> None:
        """Nothing: this process commits nothing."""

    def remove_commit_listener(self, listener: ChangeListener) -> None:
        """Nothing: no listener was kept."""

    def read_committed(self, read: Callable[[], T]) -> tuple[T, int]:
        return read(), 0

    async def wait_delivered(self, committed: int) -> None:
        """Nothing to wait for: this process commits nothing."""

    def open_watch(self) -> ChangeWatch:
        return ChangeWatch(self.path, self.durability, uri=self.uri)

    def lease_lock(self, scope: Scope) -> FileLock:
        return FileLock(lease_lock_path(self.path, lease_name(scope)))

    def liveness_lock(self, owner: str) -> FileLock:
        return FileLock(liveness_lock_path(self.path, owner))

    @asynccontextmanager
    async def hold_liveness(self, owner: str) -> AsyncIterator[None]:
        """Holds nothing: a read-only process owns no run, so nobody needs to know it
        is alive (and the directory may not take a lock file)."""
        yield

    async def create_automation(self, scope: Scope, automation: Automation) -> int:
        self._refuse()

    async def create_automations(
        self, scope: Scope, automations: Sequence[Automation]
    ) -> list[int]:
        self._refuse()

    async def update_automation(
        self, scope: Scope, automation: Automation, *, expected_revision: int
    ) -> int:
        self._refuse()

    async def delete_automation(
        self, scope: Scope, tombstone: Tombstone, *, expected_revision: int, at: datetime
    ) -> int:
        self._refuse()

    async def prune(
        self, scope: Scope, before: datetime, progress: Callable[[Pruned], None] | None = None
    ) -> Pruned:
        self._refuse()

    async def side_rows(
        self, table: SideTable, after: tuple[Any, ...] | None, limit: int
    ) -> list[tuple[Any, ...]]:
        """See `persistence.Exportable` (a copy of this store)."""
        return await self.reader.run(lambda c: side_rows(query_of(c), table, after, limit))

    async def digest(self) -> Digest:
        """See `persistence.Exportable`: every copied table, counted and hashed."""
        return await self.reader.run(lambda c: digest(query_of(c)))

    async def journal_head(self) -> int:
        """See `persistence.Exportable`."""
        return await self.reader.run(journal_head)


@asynccontextmanager
async def open_read_only_store(
    path: str | os.PathLike[str], *, durability: Durability = "full"
) -> AsyncIterator[ReadOnlyStore]:
    """Open the existing database at `path` read-only, and close it on exit.

    A missing file raises `StorageError` ("no database at ..."); a file that is not
    ours, newer than this code or older than it (it needs a migration, which is a
    write) raises `DatabaseRefused`.
    """
    path = await anyio.to_thread.run_sync(os.path.abspath, os.fspath(path))
    uri = await anyio.to_thread.run_sync(_choose_uri, path, durability)
    store = ReadOnlyStore(path, durability, uri)
    try:
        yield store
    finally:
        store.reader.close()


def _choose_uri(path: str, durability: Durability) -> str:
    if not os.path.isfile(path):
        raise StorageError(f"no database at {path}")
    try:
        uri, state = _inspect(path, immutable=False)
    except StorageError:  # no -shm it may create: read the file as it is, if it is whole
        if _wal_holds_commits(path):
            raise StorageError(
                f"cannot open {path} read-only: its write-ahead log ({path}-wal) holds "
                "commits not yet in the file, and no -shm file can be made beside it; "
                "open it once where it can be written, or copy both files elsewhere"
            ) from None
        uri, state = _inspect(path, immutable=True)
    if state.is_empty:
        raise StorageError(f"{path} holds no automations yet (an empty database)")
    if state.version < SCHEMA_VERSION:
        raise DatabaseRefused(
            f"{path} has schema version {state.version} and needs an upgrade, which "
            "writes; open it once with a command that writes (serve, add)."
        )
    return uri


def _wal_holds_commits(path: str) -> bool:
    """Whether `path` has a non-empty WAL, which `immutable=1` would ignore."""
    try:
        return os.path.getsize(f"{path}-wal") > 0
    except OSError:
        return False


def _inspect(path: str, *, immutable: bool) -> tuple[str, FileState]:
    uri = read_only_uri(path, immutable=immutable)
    connection = connect(path, durability=None, uri=uri)
    try:
        return uri, inspect(connection, path)
    except (apsw.CantOpenError, apsw.ReadOnlyError) as exc:
        raise StorageError(f"cannot open {path} read-only: {exc}") from None
    finally:
        connection.close()
