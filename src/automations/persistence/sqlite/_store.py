"""The store: the database file, its writer thread and its readers, opened together."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
import apsw

from ...model import StorageError
from .._sql import SqlStore
from ._apply import Apply, apply
from ._connection import (
    Durability,
    connect,
    create_private_file,
    enable_wal,
    set_durability,
    storage_error,
)
from ._locks import FileLock, lease_lock_path, liveness_lock_path
from ._reader import ChangeWatch, Reader
from ._schema import inspect, migrate
from ._writer import GroupCommitWriter

__all__ = ["SqliteStore", "open_sqlite_store"]

T = TypeVar("T")


class SqliteStore(SqlStore):
    """The SQLite store: a file, with `flock` files beside it for its locks."""

    def __init__(
        self, path: str, durability: Durability, writer: GroupCommitWriter, reader: Reader
    ) -> None:
        super().__init__(writer, reader)
        self.path = path
        self.durability = durability
        self.reader: Reader = reader

    @property
    def location(self) -> str:
        return self.path

    def lease_lock(self, lease: str) -> FileLock:
        """The lock of the lease named `lease` (not taken): a file beside the database."""
        return FileLock(lease_lock_path(self.path, lease))

    def liveness_lock(self, owner: str) -> FileLock:
        """The lock process `owner` holds while it lives (not taken)."""
        return FileLock(liveness_lock_path(self.path, owner))

    @asynccontextmanager
    async def hold_liveness(self, owner: str) -> AsyncIterator[None]:
        """Hold `owner`'s liveness lock while the block runs (DESIGN 8): the kernel lets
        go of it the instant the process dies, which is how others know it is gone."""
        lock = self.liveness_lock(owner)
        if not await anyio.to_thread.run_sync(lock.try_acquire):
            raise StorageError(f"could not take the liveness lock {lock.path}; is it on NFS?")
        try:
            yield
        finally:
            lock.release(remove=True)

    def open_watch(self) -> ChangeWatch:
        """A watch on commits by other connections; close it when done."""
        return ChangeWatch(self.path, self.durability)


@asynccontextmanager
async def open_sqlite_store(
    path: str | os.PathLike[str], *, durability: Durability = "full", how: Apply = apply
) -> AsyncIterator[SqliteStore]:
    """Open (creating or migrating) the database at `path`, and close it on exit.

    A file that is not ours, or is newer than this code, raises `DatabaseRefused`
    and is left untouched. `how` applies each operation (tests wrap it).
    """
    if durability not in ("full", "normal"):
        raise ValueError(f"durability must be 'full' or 'normal', not {durability!r}")
    path = await anyio.to_thread.run_sync(os.path.abspath, os.fspath(path))
    connection = await anyio.to_thread.run_sync(_open_for_writing, path, durability)
    writer = GroupCommitWriter(connection, path, how=how)
    reader = Reader(path, durability)
    writer.start()
    try:
        yield SqliteStore(path, durability, writer, reader)
    finally:
        with anyio.CancelScope(shield=True):
            await writer.close()
            reader.close()
            connection.close()


def _open_for_writing(path: str, durability: Durability) -> apsw.Connection:
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise StorageError(f"cannot create {path}: the directory {directory} does not exist")
    try:
        create_private_file(path)
    except OSError as exc:
        raise StorageError(f"cannot create {path}: {exc.strerror}") from None
    connection = connect(path, durability=None)
    try:
        state = inspect(connection, path)
        set_durability(connection, durability)
        enable_wal(connection)
        migrate(connection, state)
    except apsw.Error as exc:
        connection.close()
        error = storage_error(exc, path)
        if error is exc:
            raise
        raise error from None
    except BaseException:
        connection.close()
        raise
    return connection
