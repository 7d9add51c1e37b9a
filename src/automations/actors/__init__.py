"""The actors of a runtime: Supervisor, AutomationActor, RunActor, and RunContext."""

from ._automation_actor import AutomationActor
from ._context import RunContext
from ._fire_limit import DEFAULT_MAX_SCHEDULED_RUNS, FireLimit, Permit
from ._fleet import Fleet, open_fleet
from ._follower import Follower
from ._hub import (
    SUBSCRIBER_BUFFER,
    EventHub,
    RunWatch,
    Subscription,
    SubscriptionLagged,
)
from ._lease import STALE_SECONDS, holder_alive, is_led, leading_lease
from ._messages import (
    Adopt,
    AutomationMessage,
    BackfillSlot,
    Delete,
    Fire,
    Refresh,
    RunEnded,
    RunNow,
    Update,
)
from ._observer import Observer, RunTrace
from ._open_supervisor import open_supervisor
from ._presence import EXPIRY_SECONDS, HEARTBEAT_SECONDS, live_workers
from ._records import record_stopped
from ._retention import PRUNE_EVERY
from ._run_actor import RunActor
from ._scheduler import Scheduler
from ._services import Executor, Role, Services, is_resumable, resumable
from ._shutdown_report import ShutdownReport
from ._supervisor import Supervisor

__all__ = [
    "DEFAULT_MAX_SCHEDULED_RUNS",
    "EXPIRY_SECONDS",
    "HEARTBEAT_SECONDS",
    "PRUNE_EVERY",
    "STALE_SECONDS",
    "SUBSCRIBER_BUFFER",
    "Adopt",
    "AutomationActor",
    "AutomationMessage",
    "Delete",
    "EventHub",
    "Executor",
    "Fire",
    "Fleet",
    "Observer",
    "FireLimit",
    "Follower",
    "RunActor",
    "RunContext",
    "RunEnded",
    "Permit",
    "Refresh",
    "Role",
    "RunNow",
    "BackfillSlot",
    "RunTrace",
    "RunWatch",
    "Scheduler",
    "Services",
    "ShutdownReport",
    "Subscription",
    "SubscriptionLagged",
    "Supervisor",
    "Update",
    "holder_alive",
    "is_led",
    "leading_lease",
    "is_resumable",
    "live_workers",
    "open_fleet",
    "open_supervisor",
    "record_stopped",
    "resumable",
]
