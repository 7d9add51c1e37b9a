"""Opening PostgreSQL connections the same way everywhere, and naming its failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors

from ...model import Conflict, DuplicateKey, DuplicateSlot, StorageError, WriterKeyBusy
from .._locations import display_location as redacted
from .._port import Durability

__all__ = ["Connection", "connect", "is_postgresql", "redacted", "storage_error"]

Connection = psycopg.Connection[tuple[Any, ...]]

CONNECT_TIMEOUT_S = 10
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 11_000,
}
"""The client notices a dead server (or a cut link) in about 11 s, whether the link
was idle (keepalives) or had data in flight (`tcp_user_timeout`, ms)."""
_SERVER_SETTINGS = (
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
    "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 11000; "
    "SET lock_timeout = '15s'; SET idle_in_transaction_session_timeout = '5s'"
)
"""Every session: the server notices a dead or cut-off client in about 11 s, also
when it was sending to it: keepalives probe only an idle link, and a session blocked
sending a pipeline's results to a cut-off client is neither idle nor idle in a
transaction, so without `tcp_user_timeout` it would keep its locks (the journal's)
for the kernel's retransmission timeout, minutes. No
session of a frozen process (SIGSTOP, a paused VM) keeps a lock it took in a
transaction for more than 5 s (the lease's staleness), so it cannot hold every
writer, and a standby's take-over, up for longer. A wait for a lock
gives up after 15 s (`StorageError`) rather than hanging."""


def is_postgresql(location: str) -> bool:
    """Whether `location` names a PostgreSQL database (a `postgresql://` URL)."""
    return location.startswith(("postgresql://", "postgres://"))


def connect(
    dsn: str, *, autocommit: bool, role: str, durability: Durability | None = None
) -> Connection:
    """A connection with the project's settings, named `automations-<role>` in
    `pg_stat_activity`; `StorageError` when the server is not there."""
    try:
        connection = psycopg.connect(
            dsn,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=f"automations-{role}",
            **KEEPALIVES,
        )
    except psycopg.OperationalError as exc:
        raise StorageError(f"cannot connect to PostgreSQL at {redacted(dsn)}: {exc}") from None
    try:
        connection.execute(_SERVER_SETTINGS)
        if durability is not None:
            synchronous = "on" if durability == "full" else "off"
            connection.execute(f"SET synchronous_commit = {synchronous}")
        if not autocommit:
            connection.commit()
    except psycopg.Error as exc:
        connection.close()
        raise StorageError(f"cannot set up a session at {redacted(dsn)}: {exc}") from None
    return connection


_UNIQUE: dict[str, Callable[[], Exception]] = {
    "runs_slot": lambda: DuplicateSlot("this slot already has its run; a slot fires at most once"),
    "runs_missed": lambda: DuplicateSlot("these missed slots are already recorded"),
    "automations_key": lambda: DuplicateKey("another automation of this scope has this key"),
    "runs_writer_key": lambda: WriterKeyBusy("another active run holds this writer key"),
}


def storage_error(exc: psycopg.Error, dsn: str) -> Exception:
    """The project's error for a PostgreSQL failure: a conflict for a unique index, a
    `StorageError` for anything else (never a psycopg error above the store)."""
    if isinstance(exc, errors.UniqueViolation):
        name = exc.diag.constraint_name or ""
        make = _UNIQUE.get(name)
        if make is not None:
            return make()
        return Conflict(f"the object already exists ({name or exc})")
    if isinstance(exc, errors.DiskFull):
        return StorageError(f"the disk of the PostgreSQL server at {redacted(dsn)} is full")
    if isinstance(exc, psycopg.DataError):
        return StorageError(f"PostgreSQL at {redacted(dsn)} refused a value: {exc}")
    return StorageError(f"PostgreSQL at {redacted(dsn)} failed: {exc}")
