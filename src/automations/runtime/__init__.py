"""The actor kernel on anyio: clocks, thread-to-loop calls, mailboxes and supervision.

Imports anyio only; it knows nothing of automations and could run any actor system.
"""

from ._clock import Clock, ManualClock, SystemClock
from ._loop import LoopCaller

__all__ = ["Clock", "LoopCaller", "ManualClock", "SystemClock"]
