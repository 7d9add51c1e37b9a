"""Mailboxes and replies: how actors are told things and answer questions.

A mailbox is an unbounded memory object stream, so `tell` never blocks and never
needs a task of its own. `ask` sends a message carrying a `Reply`, a one-shot slot the
actor fills; the asker awaits it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["ActorRef", "Mailbox", "MailboxClosed", "Reply"]

M = TypeVar("M")
T = TypeVar("T")


class MailboxClosed(Exception):
    """The actor behind this mailbox has stopped for good."""


class Reply(Generic[T]):
    """A one-shot answer: exactly one of `send` or `fail`, awaited with `wait`."""

    __slots__ = ("_error", "_event", "_value")

    def __init__(self) -> None:
        self._event = anyio.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def send(self, value: T) -> None:
        if not self._event.is_set():
            self._value = value
            self._event.set()

    def fail(self, error: BaseException) -> None:
        if not self._event.is_set():
            self._error = error
            self._event.set()

    async def wait(self) -> T:
        await self._event.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class Mailbox(Generic[M]):
    """An unbounded queue of messages for one actor."""

    def __init__(self) -> None:
        send, receive = anyio.create_memory_object_stream[M](math.inf)
        self._send: MemoryObjectSendStream[M] = send
        self._receive: MemoryObjectReceiveStream[M] = receive

    def put(self, message: M) -> None:
        try:
            self._send.send_nowait(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise MailboxClosed("the actor has stopped") from None

    def empty(self) -> bool:
        return self._receive.statistics().current_buffer_used == 0

    async def get(self) -> M:
        """The next message; `anyio.EndOfStream` once closed and drained."""
        return await self._receive.receive()

    def get_nowait(self) -> M:
        return self._receive.receive_nowait()

    def close(self) -> None:
        """Refuse new messages; those already queued can still be received."""
        self._send.close()

    def discard(self) -> None:
        self._send.close()
        self._receive.close()


class ActorRef(Generic[M]):
    """The address of an actor: what others hold to `tell` and `ask` it."""

    __slots__ = ("mailbox", "name")

    def __init__(self, name: str, mailbox: Mailbox[M] | None = None) -> None:
        self.name = name
        self.mailbox: Mailbox[M] = mailbox if mailbox is not None else Mailbox()

    def tell(self, message: M) -> None:
        self.mailbox.put(message)

    async def ask(self, build: Callable[[Reply[T]], M]) -> T:
        """Send `build(reply)` and wait for the actor to fill the reply."""
        reply: Reply[T] = Reply()
        self.tell(build(reply))
        return await reply.wait()

    def __repr__(self) -> str:
        return f"<ActorRef {self.name}>"
