"""The inboxes of a fleet shard's scopes, read from one task.

A scope's inbox is told by the follower when a command of its scope comes (or when
its scope comes to be led); it tells the shard, which reads the inboxes told, one
after another, and hands each command to a task of its own. One task per shard, not
one per scope: a worker leading thousands of scopes keeps a few dozen.
"""

from __future__ import annotations

import anyio

from ..model import Scope
from ._inbox import Inbox

__all__ = ["ShardInboxes"]


class ShardInboxes:
    def __init__(self) -> None:
        self._inboxes: dict[Scope, Inbox] = {}
        self._told: set[Scope] = set()
        """The scopes whose inbox may have news (bounded by the shard's scopes)."""
        self._news = anyio.Event()

    def add(self, scope: Scope, inbox: Inbox) -> None:
        """Read `inbox` from now on, first at once (commands named for this process)."""
        self._inboxes[scope] = inbox
        self.heard(scope)

    def remove(self, scope: Scope) -> None:
        self._inboxes.pop(scope, None)
        self._told.discard(scope)

    def heard(self, scope: Scope) -> None:
        """The inbox of `scope` may have news."""
        self._told.add(scope)
        self._news.set()

    async def run(self) -> None:
        """Read the inboxes told of news, until cancelled (a command in hand stays
        pending, for this process's next look or the next holder's)."""
        async with anyio.create_task_group() as handlers:
            while True:
                self._news = anyio.Event()
                told, self._told = self._told, set()
                for scope in told:
                    inbox = self._inboxes.get(scope)
                    if inbox is not None:
                        await inbox.take_news(handlers)
                await self._news.wait()
