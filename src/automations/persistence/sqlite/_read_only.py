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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
import apsw

from ...model import DatabaseRefused, StorageError
from .._port import Durability
from .._sql import ReadOnlySqlStore
from ._connection import connect, read_only_uri
from ._locks import FileLock, lease_lock_path, liveness_lock_path
from ._reader import ChangeWatch, Reader
from ._schema import SCHEMA_VERSION, FileState, inspect

__all__ = ["ReadOnlyStore", "open_read_only_store"]

T = TypeVar("T")


class ReadOnlyStore(ReadOnlySqlStore):
    """The read half of `SqliteStore`; writes raise `StorageError`."""

    def __init__(self, path: str, durability: Durability, uri: str) -> None:
        super().__init__(Reader(path, durability, uri=uri), path)
        self.reader: Reader
        self.path = path
        self.durability = durability
        self.uri = uri

    def open_watch(self) -> ChangeWatch:
        return ChangeWatch(self.path, self.durability, uri=self.uri)

    def lease_lock(self, lease: str) -> FileLock:
        return FileLock(lease_lock_path(self.path, lease))

    def liveness_lock(self, owner: str) -> FileLock:
        return FileLock(liveness_lock_path(self.path, owner))


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
