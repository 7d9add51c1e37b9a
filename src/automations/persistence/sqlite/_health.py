"""The SQLite store examines its file for the doctor, changing nothing.

The file is opened read-only (`mode=ro`, else `immutable=1`), nothing is created
beside it, and the locks are probed only where their files already are.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat

import apsw

from ...model import DatabaseRefused
from .._health import Check, StoreHealth
from .._sql import Facts, health, read_facts
from ._connection import connect, read_only_uri
from ._locks import lease_lock_path, liveness_lock_path
from ._schema import SCHEMA_VERSION, inspect
from ._sql import SqliteSql

__all__ = ["TABLES", "diagnose"]

TABLES = frozenset(
    {"meta", "journal", "automations", "runs", "answers", "checkpoints", "leases", "commands"}
    | {"progress", "workers"}
)
WAL_WARNING_BYTES = 64 * 1024 * 1024
"""A write-ahead log this large means checkpoints cannot finish (a reader that never
lets go), and every read gets slower as it grows."""
JOURNAL_WARNING_ENTRIES = 5_000_000


def diagnose(location: str, *, overdue_before_ms: int, limit: int) -> StoreHealth:
    """See `persistence.Diagnose`."""
    path = os.path.abspath(location)
    checks: list[Check] = []

    def report(facts: Facts | None = None) -> StoreHealth:
        return health("sqlite", path, checks, facts)

    if not os.path.isfile(path):
        checks.append(
            Check(
                name="file",
                severity="error",
                detail=f"no database at {path}",
                advice="check --db and $AUTOMATIONS_DB",
            )
        )
        return report()
    if _is_sqlite(path):  # a damaged database too; not a file --db names by mistake
        checks.extend(_file_modes(path))
    if not os.access(path, os.R_OK):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        checks.append(
            Check(
                name="file",
                severity="error",
                detail=f"{path} cannot be read by this user (mode {mode:04o}, "
                f"owner uid {os.stat(path).st_uid})",
                advice="run the workers and the doctor as the file's owner, "
                f"or give it back its mode: chmod 600 {path}",
            )
        )
        return report()
    if _cannot_read_wal(path):
        checks.append(
            Check(
                name="wal",
                severity="error",
                detail=f"{path}-wal holds commits not yet in the file, and no -shm file can "
                "be made beside it: what the doctor would read is out of date",
                advice="run the doctor where the directory can be written, or copy the "
                "database and its -wal file together somewhere that can",
            )
        )
        return report()
    try:
        connection = _open(path)
    except (apsw.Error, DatabaseRefused) as exc:
        checks.append(_unreadable(path, exc))
        return report()
    try:
        state = inspect(connection, path)
        checks.append(_schema_check(path, state.version, state.is_empty))
        if state.is_empty or state.version != SCHEMA_VERSION:
            return report()
        checks.append(_tables(connection))
        if checks[-1].severity == "error":
            return report()
        checks.append(_integrity(connection))
        checks.append(_wal(path))
        checks.append(_journal(connection, path))

        facts = read_facts(
            SqliteSql(connection),
            lease_alive=lambda name: _held(lease_lock_path(path, name)),
            owner_alive=lambda owner: _held(liveness_lock_path(path, owner)),
            overdue_before_ms=overdue_before_ms,
            limit=limit,
        )
    except DatabaseRefused as exc:
        checks.append(Check(name="schema", severity="error", detail=str(exc)))
        return report()
    except apsw.Error as exc:
        checks.append(_unreadable(path, exc))
        return report()
    finally:
        connection.close()
    return report(facts)


def _open(path: str) -> apsw.Connection:
    """A read-only connection: `mode=ro`, or `immutable=1` where no -shm can be made."""
    try:
        connection = connect(path, durability=None, uri=read_only_uri(path, immutable=False))
        connection.execute("SELECT count(*) FROM sqlite_schema").fetchall()
        return connection
    except (apsw.CantOpenError, apsw.ReadOnlyError):  # no -shm can be made beside it
        return connect(path, durability=None, uri=read_only_uri(path, immutable=True))


def _cannot_read_wal(path: str) -> bool:
    """Whether the -wal holds commits that only `immutable=1` could open the file past
    (no -shm can be made), and that mode would ignore them."""
    try:
        if os.path.getsize(f"{path}-wal") == 0:
            return False
    except OSError:
        return False
    return not os.path.exists(f"{path}-shm") and not os.access(os.path.dirname(path), os.W_OK)


def _unreadable(path: str, exc: BaseException) -> Check:
    return Check(
        name="file",
        severity="error",
        detail=f"{path} cannot be read as a database: {exc}",
        advice="restore it from a backup; the runtime refuses to open it and changes nothing",
    )


def _is_sqlite(path: str) -> bool:
    """Whether the file starts as an SQLite database does (or cannot be read: then its
    mode is the point)."""
    try:
        with open(path, "rb") as file:
            return file.read(16) in (b"SQLite format 3\x00", b"")
    except OSError:
        return True


def _file_modes(path: str) -> list[Check]:
    found: list[Check] = []
    for name in (path, f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                found.append(
                    Check(
                        name="file_modes",
                        severity="warning",
                        detail=f"{name} has mode {mode:04o}: other users may read "
                        "its prompts and answers",
                        advice=f"chmod 600 {name}",
                    )
                )
    if not found:
        found.append(
            Check(name="file_modes", severity="ok", detail="the database files are private (0600)")
        )
    return found


def _schema_check(path: str, version: int, empty: bool) -> Check:
    if empty:
        return Check(
            name="schema",
            severity="warning",
            detail=f"{path} is empty: no automations store was ever made in it",
            advice="check --db; `automations serve` or `add` creates the store",
        )
    if version < SCHEMA_VERSION:
        return Check(
            name="schema",
            severity="warning",
            detail=f"schema version {version}; this code migrates it to {SCHEMA_VERSION}",
            advice="the next command that writes (serve, add) migrates it; back it up first",
        )
    return Check(name="schema", severity="ok", detail=f"schema version {version} (current)")


def _tables(connection: apsw.Connection) -> Check:
    rows = connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchall()
    missing = sorted(TABLES - {str(row[0]) for row in rows})
    if missing:
        return Check(
            name="tables",
            severity="error",
            detail=f"tables missing: {', '.join(missing)}",
            advice="the file was altered by hand or damaged; restore it from a backup",
        )
    return Check(name="tables", severity="ok", detail="every table is there")


def _integrity(connection: apsw.Connection) -> Check:
    rows = [str(row[0]) for row in connection.execute("PRAGMA integrity_check(10)")]
    if rows == ["ok"]:
        return Check(name="integrity", severity="ok", detail="integrity check passed")
    return Check(
        name="integrity",
        severity="error",
        detail="integrity check failed: " + "; ".join(rows),
        advice="stop the workers and restore the file from a backup",
    )


def _wal(path: str) -> Check:
    try:
        size = os.path.getsize(f"{path}-wal")
    except OSError:
        size = 0
    detail = f"write-ahead log {_mib(size)}"
    if size > WAL_WARNING_BYTES:
        return Check(
            name="wal",
            severity="warning",
            detail=detail + ": checkpoints are not keeping up",
            advice="a reader that never finishes keeps it from being checkpointed: stop "
            "long-lived readers (or restart the workers, which checkpoint as they close)",
        )
    return Check(name="wal", severity="ok", detail=detail)


def _journal(connection: apsw.Connection, path: str) -> Check:
    row = connection.execute("SELECT count(*) FROM journal").fetchone()
    entries = int(row[0]) if row else 0
    detail = f"{entries} journal entries, file {_mib(os.path.getsize(path))}"
    if entries > JOURNAL_WARNING_ENTRIES:
        return Check(
            name="journal",
            severity="warning",
            detail=detail,
            advice="forget old runs: `automations prune --older-than 30d`, "
            "or `automations serve --retention 30d`",
        )
    return Check(name="journal", severity="ok", detail=detail)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _held(path: str) -> bool | None:
    """Whether a process holds the `flock` of `path`; None when it cannot be told. A
    probe takes a shared lock and lets go at once, and creates nothing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
