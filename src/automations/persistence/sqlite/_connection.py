"""Opening SQLite connections the same way everywhere, and naming SQLite's failures.

The database file is created with mode 0600 (SQLite gives its -wal and -shm files
the same mode), because it holds prompts and answers.
"""

from __future__ import annotations

import os
import urllib.parse

import apsw

from ...model import Conflict, DuplicateSlot, StorageError, WriterKeyBusy
from .._port import Durability

__all__ = [
    "BUSY_TIMEOUT_MS",
    "Durability",
    "connect",
    "create_private_file",
    "enable_wal",
    "read_only_uri",
    "set_durability",
    "storage_error",
]

BUSY_TIMEOUT_MS = 10_000


def create_private_file(path: str) -> None:
    """Create `path` empty with mode 0600 unless it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def connect(
    path: str, *, durability: Durability | None, readonly: bool = False, uri: str | None = None
) -> apsw.Connection:
    """A connection with the project's settings; the file must exist.

    With `durability=None` nothing is executed yet, so a file that is not a database
    can still be inspected and refused without an error from a settings statement.
    A `uri` (see `read_only_uri`) opens the file at `path` the way it says.
    """
    flags = apsw.SQLITE_OPEN_READONLY if readonly or uri else apsw.SQLITE_OPEN_READWRITE
    if uri is not None:
        flags |= apsw.SQLITE_OPEN_URI
    try:
        connection = apsw.Connection(uri or path, flags=flags | apsw.SQLITE_OPEN_NOMUTEX)
    except apsw.CantOpenError as exc:
        raise StorageError(f"cannot open {path}: {exc}") from None
    connection.set_busy_timeout(BUSY_TIMEOUT_MS)
    if durability is not None:
        set_durability(connection, durability)
    return connection


def read_only_uri(path: str, *, immutable: bool) -> str:
    """The URI that opens `path` read-only: `mode=ro`, which still needs the -shm file
    of a WAL database (or a directory to create it in), or `immutable=1`, which needs
    nothing beside the file but sees no writer's changes (a backup, a read-only disk)."""
    query = "immutable=1" if immutable else "mode=ro"
    return f"file:{urllib.parse.quote(path)}?{query}"


def set_durability(connection: apsw.Connection, durability: Durability) -> None:
    synchronous = "FULL" if durability == "full" else "NORMAL"
    connection.execute(f"PRAGMA synchronous = {synchronous}")


def enable_wal(connection: apsw.Connection) -> None:
    row = connection.execute("PRAGMA journal_mode = WAL").fetchone()
    if row is None or str(row[0]).lower() != "wal":
        raise StorageError("the database could not switch to WAL mode; is it on a network share?")


def storage_error(exc: apsw.Error, path: str) -> Exception:
    """The project's error for an SQLite failure; other errors pass through unchanged."""
    message = str(exc)
    if isinstance(exc, apsw.ConstraintError):
        if "runs.automation_id, runs.slot" in message:
            return DuplicateSlot("this slot already has its run; a slot fires at most once")
        if "runs.automation_id, runs.missed_first" in message:
            return DuplicateSlot("these missed slots are already recorded")
        if "runs.writer_key" in message:
            return WriterKeyBusy("another active run holds this writer key")
        if ".id" in message:
            return Conflict(f"the object already exists ({message})")
        return Conflict(message)
    if isinstance(exc, apsw.FullError):
        return StorageError(f"the disk holding {path} is full; free some space and retry")
    if isinstance(exc, apsw.BusyError | apsw.LockedError):
        return StorageError(
            f"{path} stayed locked by another connection for more than "
            f"{BUSY_TIMEOUT_MS // 1000} s; retry, or find the process holding it"
        )
    if isinstance(exc, apsw.ReadOnlyError | apsw.PermissionsError):
        return StorageError(f"{path} cannot be written: {message}")
    if isinstance(exc, apsw.IOError | apsw.CorruptError | apsw.NotADBError):
        return StorageError(f"{path} failed to read or write: {message}")
    return exc
