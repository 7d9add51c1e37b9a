"""A write submitted to the group-commit writer, and its outcome once committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import anyio

from ._operations import Operation

__all__ = ["PendingWrite"]

T = TypeVar("T")

log = logging.getLogger("automations.persistence")


class PendingWrite(Generic[T]):
    """One submitted operation and, once committed or failed, its outcome.

    Writes are committed in the order they were submitted, so a caller may submit a
    write that depends on an earlier one before the earlier one is durable. A caller
    that need not wait (an actor recording a derived field, a run about to start) can
    ask to be called back instead: that costs no task wake-up and no event.
    """

    __slots__ = (
        "_callbacks",
        "_event",
        "_new_event",
        "done",
        "error",
        "held",
        "operation",
        "result",
    )

    def __init__(self, operation: Operation[T], new_event: Callable[[], anyio.Event]) -> None:
        self.operation = operation
        self._new_event = new_event
        self._event: anyio.Event | None = None
        self._callbacks: list[Callable[[PendingWrite[T]], None]] | None = None
        self.done = False
        """Committed or failed; `result` or `error` is final."""
        self.held = False
        """Submitted inside `together()` and not yet handed to the writer."""
        self.result: T | None = None
        self.error: BaseException | None = None

    def add_done_callback(self, callback: Callable[[PendingWrite[T]], None]) -> None:
        """Call `callback(self)` on the event loop once the write is done (at once if it
        is). A callback must not block; what it raises is logged."""
        if self.done:
            callback(self)
        elif self._callbacks is None:
            self._callbacks = [callback]
        else:
            self._callbacks.append(callback)

    async def outcome(self) -> T:
        """Wait until the write is durable; its result, or the error that rolled it back."""
        if not self.done:
            if self.held:
                raise RuntimeError("a write submitted in together() is awaited inside it")
            if self._event is None:
                self._event = self._new_event()
            await self._event.wait()
        if self.error is not None:
            raise self.error
        return cast(T, self.result)  # set by the writer thread with the error None

    def _complete(self) -> None:
        """On the event loop: the outcome is final; tell whoever waits."""
        self.done = True
        callbacks, self._callbacks = self._callbacks, None
        if callbacks is not None:
            for callback in callbacks:
                try:
                    callback(self)
                except Exception:  # the other waiters of the batch must still be woken
                    log.exception("a write's completion callback failed")
        if self._event is not None:
            self._event.set()
