"""The answers a run waits for: delivered once each, matched to the open blocker.

Answers are stored durably before they get here (`Runtime.answer`); this is only the
hand-over to the executor's waiting `ask`, and it never blocks the deliverer. Memory is
bounded: a run that is not waiting keeps only the last few answers.
"""

from __future__ import annotations

import anyio
import msgspec

from ..model import Permission, Question

__all__ = ["Answers", "decode_reply", "describe"]

_KEEP = 4
"""Answers kept for blockers nobody waits on yet. A run has one open blocker at a
time, and each answer is stored before it is delivered, so only a few can be in flight:
the one for the blocker about to be waited on, and stale repeats of earlier ones."""


class Answers:
    """The answers delivered and not yet taken, newest last, at most `_KEEP`."""

    __slots__ = ("_closed", "_replies", "_waiter")

    def __init__(self) -> None:
        self._replies: dict[str, str | bool] | None = None  # made with the first answer
        self._waiter: anyio.Event | None = None
        self._closed = False

    def deliver(self, blocker_id: str, reply: str | bool) -> None:
        if self._closed:
            return
        replies = self._replies = {} if self._replies is None else self._replies
        replies.pop(blocker_id, None)
        replies[blocker_id] = reply
        while len(replies) > _KEEP:
            del replies[next(iter(replies))]
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()

    async def wait(self, blocker_id: str) -> str | bool:
        """The reply to `blocker_id`, once delivered; answers to others stay."""
        while self._replies is None or blocker_id not in self._replies:
            self._waiter = self._waiter or anyio.Event()
            await self._waiter.wait()
        return self._replies.pop(blocker_id)

    def close(self) -> None:
        """The run is over: later answers are dropped."""
        self._closed = True
        self._replies = None


def decode_reply(stored: bytes) -> str | bool:
    """A reply as `answers` stores it (JSON)."""
    reply: str | bool = msgspec.json.decode(stored, type=str | bool)
    return reply


def describe(request: Question | Permission) -> str:
    """The blocker in words, for run errors."""
    if isinstance(request, Question):
        return f"the question {request.text!r}"
    return f"permission to use {request.tool!r}"
