"""Opening PostgreSQL connections the same way everywhere, and naming its failures."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors

from ...model import Conflict, DuplicateKey, DuplicateSlot, StorageError, WriterKeyBusy
from .._port import Durability

__all__ = ["Connection", "connect", "is_postgresql", "redacted", "storage_error"]

Connection = psycopg.Connection[tuple[Any, ...]]

CONNECT_TIMEOUT_S = 10
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}
"""The client notices a dead server (or a cut link) in about 11 s."""


def is_postgresql(location: str) -> bool:
    """Whether `location` names a PostgreSQL database (a `postgresql://` URL)."""
    return location.startswith(("postgresql://", "postgres://"))


def redacted(dsn: str) -> str:
    """`dsn` without its password, for messages."""
    parts = urllib.parse.urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


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
    if durability is not None:
        synchronous = "on" if durability == "full" else "off"
        connection.execute(f"SET synchronous_commit = {synchronous}")
        if not autocommit:
            connection.commit()
    return connection


_UNIQUE: dict[str, Callable[[], Exception]] = {
    "runs_slot": lambda: DuplicateSlot("this slot already has its run; a slot fires at most once"),
    "runs_missed": lambda: DuplicateSlot("these missed slots are already recorded"),
    "automations_key": lambda: DuplicateKey("another automation of this scope has this key"),
    "runs_writer_key": lambda: WriterKeyBusy("another active run holds this writer key"),
}


def storage_error(exc: psycopg.Error, dsn: str) -> Exception:
    """The project's error for a PostgreSQL failure; other errors pass through unchanged."""
    if isinstance(exc, errors.UniqueViolation):
        name = exc.diag.constraint_name or ""
        make = _UNIQUE.get(name)
        if make is not None:
            return make()
        return Conflict(f"the object already exists ({name or exc})")
    if isinstance(exc, errors.DiskFull):
        return StorageError(f"the disk of the PostgreSQL server at {redacted(dsn)} is full")
    if isinstance(exc, psycopg.OperationalError):
        return StorageError(f"PostgreSQL at {redacted(dsn)} failed: {exc}")
    return exc
