"""The derived fields an automation's actor writes without waiting for them.

Next fires, failure streak, session: the actor submits each write and goes on, since
writes commit in the order they were submitted. A fire's write passes its slot only if
the slot's run is in the database (`SaveAutomation.slot_with_run`): a run the database
refused leaves the slot due. Every derived write submitted after it, until it is
known to have committed, builds on the passed slot too, so it carries the same
condition; otherwise it would pass the slot in its stead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

import anyio

from ..model import Automation, Scope
from ..persistence import PendingWrite, SaveAutomation, StorePort

__all__ = ["DerivedWrites"]


class DerivedWrites:
    __slots__ = ("_failed", "_last", "_store", "_unconfirmed")

    def __init__(self, store: StorePort, failed: Callable[[BaseException], None]) -> None:
        """`failed(error)` runs for each derived write the database refused."""
        self._store = store
        self._failed = failed
        self._last: PendingWrite[int] | None = None
        self._unconfirmed: datetime | None = None
        """A slot a submitted write passed, not yet known to have its run."""

    def submit(
        self,
        scope: Scope,
        current: Automation,
        changed: Automation,
        epoch: int | None,
        slot_with_run: datetime | None,
    ) -> None:
        """Write `changed` at `current`'s revision; `slot_with_run`: the slot it passes."""
        slot = slot_with_run or self._unconfirmed
        operation = SaveAutomation(
            scope, changed, current.revision, derived=True, epoch=epoch, slot_with_run=slot
        )
        self._unconfirmed = slot
        pending = self._last = self._store.submit(operation)
        pending.add_done_callback(self._written)

    def _written(self, pending: PendingWrite[int]) -> None:
        error = pending.error
        if error is not None:
            self._failed(error)
            return
        assert isinstance(pending.operation, SaveAutomation)
        if pending.operation.slot_with_run == self._unconfirmed:
            self._unconfirmed = None  # its run is in the database: later writes may pass it

    def forget(self) -> None:
        """The definition was read again from the database: nothing passed is pending."""
        self._unconfirmed = None

    async def settle(self) -> bool:
        """Wait until the last write is done (shielded: it is the actor's cleanup too);
        whether it committed, and with it every one before it that built on the same."""
        pending = self._last
        if pending is None:
            return True
        if not pending.done:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await pending.outcome()  # a failure went to `failed`
        return pending.error is None
