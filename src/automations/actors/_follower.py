"""The journal follower: what other processes commit reaches this one's subscribers.

Every runtime polls the head of the journal; entries it did not commit itself are
published to its hub, so `events()` and `wait()` see runs other processes execute.
Polling is the design (DESIGN 8): SQLite has no cross-process notification.
"""

from __future__ import annotations

import anyio

from ._hub import EventHub
from ._services import Services

__all__ = ["FOLLOW_SECONDS", "follow_journal"]

FOLLOW_SECONDS = 0.05
_PAGE = 1_000


async def follow_journal(services: Services, hub: EventHub) -> None:
    """Publish other processes' journal entries, in order, until cancelled."""
    reader = services.store.reader
    last = await reader.last_seq()
    while True:
        await anyio.sleep(FOLLOW_SECONDS)
        head = await reader.last_seq()
        if head <= last:
            continue
        if hub.only_local(last, head):  # the usual case in a busy worker: no read at all
            last = head
            continue
        while entries := await reader.all_journal(last, _PAGE):
            for entry in entries:
                hub.publish_foreign(entry)
            last = entries[-1].seq
