"""The actor kernel on anyio: clocks, mailboxes, supervised actor groups, task pools.

Imports anyio only; it knows nothing of automations and could run any actor system.
"""

from ._actors import Actor, ActorGroup, RestartIntensityExceeded
from ._clock import Clock, ManualClock, SystemClock, sleep_until_or
from ._groups import single_error, unwrapping_groups
from ._loop import LoopCaller
from ._mailbox import ActorRef, Mailbox, MailboxClosed, Reply
from ._pool import TaskPool

__all__ = [
    "Actor",
    "ActorGroup",
    "ActorRef",
    "Clock",
    "LoopCaller",
    "Mailbox",
    "MailboxClosed",
    "ManualClock",
    "Reply",
    "RestartIntensityExceeded",
    "SystemClock",
    "TaskPool",
    "single_error",
    "sleep_until_or",
    "unwrapping_groups",
]
