"""The actors of a runtime: Supervisor, AutomationActor, RunActor, and RunContext."""

from ._automation_actor import AutomationActor
from ._context import RunContext
from ._hub import EventHub, Subscription, event_of
from ._messages import AutomationMessage, Delete, Fire, RunEnded, RunNow, Update
from ._run_actor import RunActor
from ._scheduler import Scheduler
from ._services import Executor, Services
from ._supervisor import Supervisor, open_supervisor

__all__ = [
    "AutomationActor",
    "AutomationMessage",
    "Delete",
    "EventHub",
    "Executor",
    "Fire",
    "RunActor",
    "RunContext",
    "RunEnded",
    "RunNow",
    "Scheduler",
    "Services",
    "Subscription",
    "Supervisor",
    "Update",
    "event_of",
    "open_supervisor",
]
