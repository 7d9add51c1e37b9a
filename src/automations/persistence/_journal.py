"""What the journal holds and how a page of runs is read back: the store's records."""

from __future__ import annotations

from typing import NamedTuple

from ..model import Run

__all__ = [
    "AUTOMATION_DELETED",
    "AUTOMATION_UPDATED",
    "RUN_UPDATED",
    "JournalEntry",
    "Page",
]

AUTOMATION_UPDATED = "automation.definition.updated"
AUTOMATION_DELETED = "automation.definition.deleted"
RUN_UPDATED = "automation.run.updated"


class JournalEntry(NamedTuple):
    """One committed transition: `body` is the entity's msgpack as of `revision`."""

    seq: int
    at: int
    kind: str
    entity_id: str
    revision: int
    project: str
    directory: str
    writer_key: str | None
    owner: str | None
    body: bytes


class Page(NamedTuple):
    items: list[Run]
    next_cursor: str | None
