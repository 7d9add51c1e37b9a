"""The actor kernel on anyio: clocks, mailboxes and supervised actor groups.

Imports anyio only; it knows nothing of automations and could run any actor system.
"""

from ._actors import Actor, ActorGroup, RestartIntensityExceeded
from ._clock import Clock, ManualClock, SystemClock, sleep_until_or
from ._groups import single_error, unwrapping_groups
from ._loop import LoopCaller
from ._mailbox import ActorRef, Mailbox, MailboxClosed, Reply

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
    "single_error",
    "sleep_until_or",
    "unwrapping_groups",
]
