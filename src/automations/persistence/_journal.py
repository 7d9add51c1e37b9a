"""What the journal holds and how a page of runs is read back: the store's records."""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from ..model import Run, Trigger

__all__ = [
    "AUTOMATION_DELETED",
    "AUTOMATION_UPDATED",
    "RUN_UPDATED",
    "JournalEntry",
    "Page",
    "is_retry",
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


class _Trigger(msgspec.Struct, gc=False, frozen=True):
    trigger: Trigger


_trigger_of = msgspec.msgpack.Decoder(_Trigger)


def is_retry(body: bytes) -> bool:
    """Whether a run's stored body is a retry (its trigger read, nothing else decoded)."""
    return _trigger_of.decode(body).trigger is Trigger.RETRY
