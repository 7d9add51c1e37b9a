"""What a scheduler fires: one scope (a one-scope worker), or the scopes a shard leads
(a fleet's cell). Either way it reads what is due with one query of the store's index,
and knows the scope of every automation it hands out."""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import Protocol

from ..model import Automation, Scope
from ..persistence import StorePort

__all__ = ["ScopeTerritory", "ShardTerritory", "Territory"]

Due = tuple[list[tuple[str, int]], int | None]
"""(automation id, next fire ms) of those due, soonest first, and the slot the read
was cut at when it read as many rows as it could (None: it read them all)."""


class Territory(Protocol):
    def covers(self, scope: Scope, automation_id: str) -> bool:
        """Whether the automation of `scope` is fired here (noting its scope)."""
        ...

    def scope_of(self, automation_id: str) -> Scope:
        """The scope of an automation `due` named or `covers` took."""
        ...

    async def due(self, until_ms: int, limit: int) -> Due:
        """What is due by `until_ms`, `limit` rows read at most."""
        ...

    async def automations_by_ids(self, ids: Iterable[str]) -> list[Automation]:
        """The definitions of automations `due` named or `covers` took."""
        ...


class ScopeTerritory:
    """One scope's automations."""

    def __init__(self, store: StorePort, scope: Scope) -> None:
        self._store = store
        self._scope = scope

    def covers(self, scope: Scope, automation_id: str) -> bool:
        return scope == self._scope

    def scope_of(self, automation_id: str) -> Scope:
        return self._scope

    async def due(self, until_ms: int, limit: int) -> Due:
        rows = await self._store.reader.due(self._scope, until_ms, limit)
        return rows, rows[-1][1] if len(rows) == limit else None

    async def automations_by_ids(self, ids: Iterable[str]) -> list[Automation]:
        return await self._store.reader.automations_by_ids(self._scope, ids)


class ShardTerritory:
    """The automations of the scopes of one shard that the shard leads (`led`: not
    those being taken, nor those a one-scope worker leads)."""

    def __init__(self, store: StorePort, shard: int, led: Container[Scope]) -> None:
        self._store = store
        self._shard = shard
        self._led = led
        self._scopes: dict[str, Scope] = {}

    def covers(self, scope: Scope, automation_id: str) -> bool:
        if scope not in self._led:
            return False
        self._scopes[automation_id] = scope
        return True

    def scope_of(self, automation_id: str) -> Scope:
        return self._scopes[automation_id]

    async def due(self, until_ms: int, limit: int) -> Due:
        rows = await self._store.reader.due_in_shards((self._shard,), until_ms, limit)
        due: list[tuple[str, int]] = []
        for scope, automation_id, slot in rows:
            if scope in self._led:
                self._scopes[automation_id] = scope
                due.append((automation_id, slot))
        return due, rows[-1][2] if len(rows) == limit else None

    async def automations_by_ids(self, ids: Iterable[str]) -> list[Automation]:
        by_scope: dict[Scope, list[str]] = {}
        for automation_id in ids:
            by_scope.setdefault(self._scopes[automation_id], []).append(automation_id)
        found: list[Automation] = []
        for scope, some in by_scope.items():
            found += await self._store.reader.automations_by_ids(scope, some)
        return found
