"""Tests that look inside a store (its tables, its writer) reach it here."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from automations.persistence import StorePort
from automations.persistence._sql import SqlReader
from automations.persistence.sqlite import SqliteStore

__all__ = ["Inspectable", "rows", "sqlite_of"]


@runtime_checkable
class Inspectable(Protocol):
    """What both stores offer the tests beyond the port: their projections, and replay."""

    async def projections(self) -> dict[str, list[tuple[Any, ...]]]: ...

    async def replay(self) -> int: ...


def sqlite_of(store: StorePort) -> SqliteStore:
    """The runtime's store, as the SQLite store these tests know it is."""
    assert isinstance(store, SqliteStore), f"a SQLite store, not {type(store).__name__}"
    return store


async def rows(
    store: StorePort, sql: str, parameters: tuple[object, ...] = ()
) -> list[tuple[Any, ...]]:
    """The rows `sql` reads from `store`: SQL both databases understand, with `?` for
    each of `parameters`."""
    reader = store.reader
    assert isinstance(reader, SqlReader), f"a known store, not {type(store).__name__}"
    return await reader.query(lambda s: [tuple(row) for row in s.execute(sql, parameters)])
