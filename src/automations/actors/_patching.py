"""What an update makes of a definition, before the actor writes it."""

from __future__ import annotations

import msgspec

from ..model import AfterCount, Automation, Conflict
from ..schedules import apply_patch, with_next_fires
from ._messages import Update
from ._services import Services

__all__ = ["patched"]


async def patched(services: Services, current: Automation, update: Update) -> Automation:
    """The definition `update` asks for; `current` itself when nothing changes.

    Raises `Conflict` when the caller pinned a revision that is not the current one. A
    count stop set on an automation without one counts the runs already executed, so
    that "stop after 10" means ten in all, not ten more.
    """
    expected = update.expected_revision
    if expected is not None and expected != current.revision:
        raise Conflict(
            f"automation {current.id} is at revision {current.revision}, not {expected}; "
            "read it again and retry the change on the current revision"
        )
    changed = apply_patch(
        current,
        update.patch,
        now=services.now(),
        min_interval=services.min_interval,
        catalog=services.catalog,
    )
    if changed is current:
        return current
    if isinstance(changed.stop, AfterCount) and not isinstance(current.stop, AfterCount):
        executed = await services.store.reader.executed_runs(services.scope, current.id)
        changed = with_next_fires(
            msgspec.structs.replace(changed, executed_runs=executed), services.now()
        )
    return changed
