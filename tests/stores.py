"""Tests that look inside the SQLite store (its tables, its writer) reach it here."""

from __future__ import annotations

from automations.persistence import StorePort
from automations.persistence.sqlite import SqliteStore

__all__ = ["sqlite_of"]


def sqlite_of(store: StorePort) -> SqliteStore:
    """The runtime's store, as the SQLite store these tests know it is."""
    assert isinstance(store, SqliteStore), f"a SQLite store, not {type(store).__name__}"
    return store
