"""The change feed: what a commit means, as the model's events.

The store tells its listeners what committed as `(scope, event)` pairs, in journal
order, so nothing above the store looks at operations or their results to find out
what happened. Events of other processes are built from journal entries the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..model import (
    Automation,
    DefinitionDeleted,
    DefinitionUpdated,
    Event,
    Run,
    RunUpdated,
    Scope,
    Tombstone,
    from_msgpack,
)
from ._journal import AUTOMATION_DELETED, AUTOMATION_UPDATED, RUN_UPDATED, JournalEntry
from ._operations import CreateAutomations, DeleteAutomation, Operation, SaveAutomation
from ._reconcile import Reconciled, ReconcileRuns
from ._run_operations import CreateRun, SaveRun

__all__ = ["ChangeListener", "event_of", "events_committed"]

ChangeListener = Callable[[Scope, Event], None]
"""Called on the event loop with each committed event, in journal order."""


def events_committed(operation: Operation[object], result: object) -> Iterator[tuple[Scope, Event]]:
    """The events a committed `operation` appended to the journal (none for most
    operations that change no automation or run)."""
    if isinstance(operation, SaveRun) and isinstance(result, int):
        yield operation.scope, RunUpdated(seq=result, run=operation.run)
    elif isinstance(operation, SaveAutomation) and isinstance(result, int):
        yield operation.scope, DefinitionUpdated(seq=result, automation=operation.automation)
    elif isinstance(operation, DeleteAutomation) and isinstance(result, int):
        yield operation.scope, DefinitionDeleted(seq=result, tombstone=operation.tombstone)
    elif isinstance(operation, CreateAutomations) and isinstance(result, list):
        for seq, automation in zip(result, operation.automations, strict=True):
            yield operation.scope, DefinitionUpdated(seq=seq, automation=automation)
    elif isinstance(operation, CreateRun) and isinstance(result, list):
        for seq, run in zip(result, operation.revisions, strict=True):
            yield operation.scope, RunUpdated(seq=seq, run=run)
    elif isinstance(operation, ReconcileRuns) and isinstance(result, Reconciled):
        for seq, run in result.changed:
            yield operation.scope, RunUpdated(seq=seq, run=run)


def event_of(entry: JournalEntry) -> Event:
    """The event a journal entry records."""
    if entry.kind == RUN_UPDATED:
        return RunUpdated(seq=entry.seq, run=from_msgpack(entry.body, Run))
    if entry.kind == AUTOMATION_UPDATED:
        return DefinitionUpdated(seq=entry.seq, automation=from_msgpack(entry.body, Automation))
    if entry.kind == AUTOMATION_DELETED:
        return DefinitionDeleted(seq=entry.seq, tombstone=from_msgpack(entry.body, Tombstone))
    raise ValueError(f"journal entry {entry.seq} has unknown kind {entry.kind!r}")
