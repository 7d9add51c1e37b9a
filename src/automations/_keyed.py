"""Idempotent create: `NewAutomation.key` names an automation once per scope.

A service that creates its automations each time it starts passes a key; creating
again returns the automation made the first time, or `Conflict` when the definition
asked for now differs from it (its pause aside). Two callers racing with one key meet
at the store's unique index: the loser reads the winner's automation back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .model import Automation, Conflict, DuplicateKey, NewAutomation, Scope
from .persistence import ReaderPort
from .schedules import same_definition

__all__ = ["create_keyed"]


async def create_keyed(
    reader: ReaderPort,
    scope: Scope,
    new: NewAutomation,
    create: Callable[[NewAutomation], Awaitable[Automation]],
) -> Automation:
    """`create(new)`, unless an automation of `scope` already has `new.key`."""
    key = new.key
    assert key is not None
    existing = await reader.automation_by_key(scope, key)
    if existing is None:
        try:
            return await create(new)
        except DuplicateKey:  # created meanwhile, by another caller
            existing = await reader.automation_by_key(scope, key)
            if existing is None:  # created, then deleted, meanwhile
                raise
    if not same_definition(existing, new):
        raise Conflict(
            f"automation {existing.id} already has key {key!r} in this project and "
            "directory, with another definition; update it (Runtime.update), delete it, "
            "or create with another key"
        )
    return existing
