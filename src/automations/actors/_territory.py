"""What a scheduler fires: one scope (a one-scope worker), or a shard of scopes (a
fleet's cell). Either way it reads what is due with one query of the store's index,
and knows the scope of every automation it hands out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..model import Automation, Scope
from ..persistence import StorePort, shard_of

__all__ = ["ScopeTerritory", "ShardTerritory", "Territory"]


class Territory(Protocol):
    def covers(self, scope: Scope, automation_id: str) -> bool:
        """Whether the automation of `scope` is fired here (noting its scope)."""
        ...

    def scope_of(self, automation_id: str) -> Scope:
        """The scope of an automation `due` named or `covers` took."""
        ...

    async def due(self, until_ms: int, limit: int) -> list[tuple[str, int]]:
        """(automation id, next fire ms) of those due by `until_ms`, soonest first."""
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

    async def due(self, until_ms: int, limit: int) -> list[tuple[str, int]]:
        return await self._store.reader.due(self._scope, until_ms, limit)

    async def automations_by_ids(self, ids: Iterable[str]) -> list[Automation]:
        return await self._store.reader.automations_by_ids(self._scope, ids)


class ShardTerritory:
    """The automations of one shard's scopes, but those a one-scope worker leads
    (`left_out`: such a worker holds the scope's own lease)."""

    def __init__(self, store: StorePort, shard: int) -> None:
        self._store = store
        self._shard = shard
        self._scopes: dict[str, Scope] = {}
        self.left_out: frozenset[Scope] = frozenset()

    def covers(self, scope: Scope, automation_id: str) -> bool:
        if shard_of(scope) != self._shard or scope in self.left_out:
            return False
        self._scopes[automation_id] = scope
        return True

    def scope_of(self, automation_id: str) -> Scope:
        return self._scopes[automation_id]

    async def due(self, until_ms: int, limit: int) -> list[tuple[str, int]]:
        rows = await self._store.reader.due_in_shards((self._shard,), until_ms, limit)
        due: list[tuple[str, int]] = []
        for scope, automation_id, slot in rows:
            if scope not in self.left_out:
                self._scopes[automation_id] = scope
                due.append((automation_id, slot))
        return due

    async def automations_by_ids(self, ids: Iterable[str]) -> list[Automation]:
        by_scope: dict[Scope, list[str]] = {}
        for automation_id in ids:
            by_scope.setdefault(self._scopes[automation_id], []).append(automation_id)
        found: list[Automation] = []
        for scope, some in by_scope.items():
            found += await self._store.reader.automations_by_ids(scope, some)
        return found
