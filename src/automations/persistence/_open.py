"""Opening a store by where it is: the one place that knows which stores exist.

A `postgresql://` (or `postgres://`) URL is a PostgreSQL database, anything else a
SQLite file path. The PostgreSQL store is imported only when asked for, so psycopg
is needed only by those who use it (`pip install 'automations[postgresql]'`).
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager

from ..model import StorageError
from ._health import StoreHealth
from ._locations import display_location, is_url
from ._port import Durability, StorePort
from .sqlite import diagnose as diagnose_sqlite
from .sqlite import open_read_only_store, open_sqlite_store, remove_database

__all__ = ["diagnose_store", "display_location", "is_url", "open_store", "remove_store"]


def open_store(
    location: str | os.PathLike[str],
    *,
    durability: Durability = "full",
    read_only: bool = False,
) -> AbstractAsyncContextManager[StorePort]:
    """Open (creating or migrating) the store at `location`, a SQLite file path or a
    `postgresql://` URL, and close it when the block exits.

    A file that is not ours, or is newer than this code, raises `DatabaseRefused`
    and is left untouched. `read_only` opens an existing store for reading only: it
    creates, migrates and locks nothing (so a read-only directory or backup can be
    read), its writes raise `StorageError`, and a missing one is a `StorageError`
    ("no database at ..."); on PostgreSQL an empty schema is a `StorageError` too,
    and the server refuses every write of its connections.
    """
    if is_url(location):
        assert isinstance(location, str)
        return _open_postgresql(location, durability, read_only)
    if read_only:
        return open_read_only_store(location, durability=durability)
    return open_sqlite_store(location, durability=durability)


def remove_store(location: str) -> None:
    """Remove the store at `location` and everything beside it (blocking: in a thread).
    A PostgreSQL store is the database's business: refused."""
    if is_url(location):
        raise StorageError("remove a PostgreSQL store with DROP SCHEMA or DROP DATABASE")
    remove_database(location)


def diagnose_store(location: str, *, overdue_before_ms: int, limit: int = 100) -> StoreHealth:
    """What the store at `location` says about itself (see `persistence.Diagnose`),
    changing nothing; blocking: call it in a thread."""
    if is_url(location):
        try:
            from .postgresql import diagnose
        except ImportError as exc:
            raise StorageError(
                f"{exc}: a postgresql:// database needs psycopg; "
                "pip install 'automations[postgresql]'"
            ) from None
        return diagnose(location, overdue_before_ms=overdue_before_ms, limit=limit)
    return diagnose_sqlite(location, overdue_before_ms=overdue_before_ms, limit=limit)


def _open_postgresql(
    dsn: str, durability: Durability, read_only: bool
) -> AbstractAsyncContextManager[StorePort]:
    try:
        from .postgresql import open_postgresql_store, open_read_only_postgresql_store
    except ImportError as exc:
        raise StorageError(
            f"{exc}: a postgresql:// database needs psycopg; pip install 'automations[postgresql]'"
        ) from None
    if read_only:
        return open_read_only_postgresql_store(dsn)
    return open_postgresql_store(dsn, durability=durability)
