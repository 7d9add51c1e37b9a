"""The three events, each carrying its journal sequence number and the whole object."""

from __future__ import annotations

import msgspec

from ._automation import Automation, Tombstone
from ._run import Run

__all__ = ["DefinitionDeleted", "DefinitionUpdated", "Event", "RunUpdated"]


class DefinitionUpdated(
    msgspec.Struct,
    gc=False,
    frozen=True,
    kw_only=True,
    tag="automation.definition.updated",
    tag_field="type",
    rename="camel",
):
    seq: int
    automation: Automation


class DefinitionDeleted(
    msgspec.Struct,
    gc=False,
    frozen=True,
    kw_only=True,
    tag="automation.definition.deleted",
    tag_field="type",
    rename="camel",
):
    seq: int
    tombstone: Tombstone


class RunUpdated(
    msgspec.Struct,
    gc=False,
    frozen=True,
    kw_only=True,
    tag="automation.run.updated",
    tag_field="type",
    rename="camel",
):
    seq: int
    run: Run


Event = DefinitionUpdated | DefinitionDeleted | RunUpdated
