"""One log line per run transition this process committed, read from the change feed.

Lines go to the `automations.runs` logger: DEBUG for a transition, WARNING for a
fault (a failure, a run that expired or lost its blocker, missed slots), each with
the run's and automation's ids as structured `extra`, so a JSON formatter (`serve
--log-format json`) ships them as fields. The library adds no handler: what is shown
where is the application's choice.
"""

from __future__ import annotations

import logging
from typing import Any

from ..model import Event, Run, RunState, RunUpdated, Scope, StopReason

__all__ = ["TRANSITIONS_LOGGER", "TransitionLog", "is_fault"]

TRANSITIONS_LOGGER = "automations.runs"

_FAULTY_STOPS = frozenset({StopReason.EXPIRED, StopReason.BLOCKER_LOST, StopReason.MISSED_SCHEDULE})


def is_fault(run: Run) -> bool:
    """Whether a transition is something an operator should look at."""
    if run.state is RunState.FAILED:
        return True
    return run.state is RunState.STOPPED and run.stop_reason in _FAULTY_STOPS


class TransitionLog:
    """The change listener that logs transitions; cheap when its levels are off."""

    __slots__ = ("_log",)

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(TRANSITIONS_LOGGER)

    def on_commit(self, scope: Scope, event: Event) -> None:
        if not isinstance(event, RunUpdated):
            return
        run = event.run
        level = logging.WARNING if is_fault(run) else logging.DEBUG
        if not self._log.isEnabledFor(level):
            return
        extra: dict[str, Any] = {
            "run_id": run.id,
            "automation_id": run.automation_id,
            "state": str(run.state),
            "trigger": str(run.trigger),
            "revision": run.revision,
            "seq": event.seq,
            "project": scope.project,
        }
        detail = ""
        if run.stop_reason is not None:
            extra["stop_reason"] = str(run.stop_reason)
            detail = f" ({run.stop_reason})"
        if run.error is not None:
            extra["error_code"] = str(run.error.code)
            detail = f" ({run.error.code}: {run.error.message})"
        if run.missed is not None:
            extra["missed"] = run.missed.count
            detail += f", {run.missed.count} slots missed"
        self._log.log(
            level,
            "run %s of %s is %s%s",
            run.id,
            run.automation_id,
            run.state,
            detail,
            extra=extra,
        )
