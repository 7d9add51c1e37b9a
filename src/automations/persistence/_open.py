"""Opening a store by where it is: the one place that knows which stores exist."""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager

from ._port import Durability, StorePort
from .sqlite import open_read_only_store, open_sqlite_store, remove_database

__all__ = ["open_store", "remove_store"]


def open_store(
    location: str | os.PathLike[str],
    *,
    durability: Durability = "full",
    read_only: bool = False,
) -> AbstractAsyncContextManager[StorePort]:
    """Open (creating or migrating) the store at `location`, a SQLite file path, and
    close it when the block exits.

    A file that is not ours, or is newer than this code, raises `DatabaseRefused`
    and is left untouched. `read_only` opens an existing store for reading only: it
    creates, migrates and locks nothing (so a read-only directory or backup can be
    read), its writes raise `StorageError`, and a missing one is a `StorageError`
    ("no database at ...").
    """
    if read_only:
        return open_read_only_store(location, durability=durability)
    return open_sqlite_store(location, durability=durability)


def remove_store(location: str) -> None:
    """Remove the store at `location` and everything beside it (blocking: in a thread)."""
    remove_database(location)
