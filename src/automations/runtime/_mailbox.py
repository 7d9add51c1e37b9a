"""Mailboxes and replies: how actors are told things and answer questions.

A mailbox is an unbounded queue, so `tell` never blocks and never needs a task of
its own. `ask` sends a message carrying a `Reply`, a one-shot slot the
actor fills; the asker awaits it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio

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
    """An unbounded queue of messages for one actor, its only reader.

    A deque and an event made when the reader has to wait: unlike a memory object
    stream, taking a queued message costs no scheduling round and no receiver object,
    and the actor loop decides itself when to yield (see `ActorGroup`).
    """

    __slots__ = ("_closed", "_queue", "_waiter")

    def __init__(self) -> None:
        self._queue: collections.deque[M] = collections.deque()
        self._waiter: anyio.Event | None = None
        self._closed = False

    def put(self, message: M) -> None:
        if self._closed:
            raise MailboxClosed("the actor has stopped")
        self._queue.append(message)
        self._wake()

    def empty(self) -> bool:
        return not self._queue

    async def get(self) -> M:
        """The next message, waiting for one; `anyio.EndOfStream` once closed and drained."""
        while not self._queue:
            if self._closed:
                raise anyio.EndOfStream
            self._waiter = waiter = anyio.Event()
            await waiter.wait()
        return self._queue.popleft()

    def get_nowait(self) -> M:
        """The next message; `anyio.WouldBlock` when there is none yet, `anyio.EndOfStream`
        once closed and drained."""
        if self._queue:
            return self._queue.popleft()
        raise anyio.EndOfStream if self._closed else anyio.WouldBlock

    def close(self) -> None:
        """Refuse new messages; those already queued can still be received."""
        self._closed = True
        self._wake()

    def discard(self) -> None:
        """Refuse new messages and drop the queued ones."""
        self.close()
        self._queue.clear()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()


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
