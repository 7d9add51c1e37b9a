"""The answers a run waits for: delivered once each, matched to the open blocker.

Answers are stored durably before they get here (`Runtime.answer`); this is only the
hand-over to the executor's waiting `ask`, and it never blocks the deliverer.
"""

from __future__ import annotations

import math

import anyio
import anyio.lowlevel
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..model import Permission, Question

__all__ = ["Answers", "decode_reply", "describe"]

_Answer = tuple[str, str | bool]


class Answers:
    """An unbounded channel of (blocker id, reply), opened on first use."""

    __slots__ = ("_closed", "_receive", "_send")

    def __init__(self) -> None:
        self._send: MemoryObjectSendStream[_Answer] | None = None
        self._receive: MemoryObjectReceiveStream[_Answer] | None = None
        self._closed = False

    def _open(self) -> MemoryObjectReceiveStream[_Answer]:
        if self._receive is None:
            self._send, self._receive = anyio.create_memory_object_stream[_Answer](math.inf)
        return self._receive

    def deliver(self, blocker_id: str, reply: str | bool) -> None:
        if self._closed:
            return
        self._open()
        assert self._send is not None
        self._send.send_nowait((blocker_id, reply))

    async def wait(self, blocker_id: str) -> str | bool:
        """The reply to `blocker_id`; other (stale) answers are skipped. Raises the
        backend's cancellation when the channel is closed: the run is ending."""
        async for answered_id, reply in self._open():
            if answered_id == blocker_id:
                return reply
        await anyio.lowlevel.checkpoint()
        raise anyio.get_cancelled_exc_class()()

    def close(self) -> None:
        self._closed = True
        if self._send is not None and self._receive is not None:
            self._send.close()
            self._receive.close()


def decode_reply(stored: bytes) -> str | bool:
    """A reply as `answers` stores it (JSON)."""
    reply: str | bool = msgspec.json.decode(stored, type=str | bool)
    return reply


def describe(request: Question | Permission) -> str:
    """The blocker in words, for run errors."""
    if isinstance(request, Question):
        return f"the question {request.text!r}"
    return f"permission to use {request.tool!r}"
