"""Small builders of the conformance tests, on top of `tests/persistence/helpers`.

They write through the port only: `StorePort`'s methods and the operations that
`automations.persistence` exports.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import msgspec

from automations.model import (
    Automation,
    Blocker,
    Event,
    Question,
    Run,
    RunState,
    Scope,
    StopReason,
    Trigger,
    advance,
)
from automations.persistence import SaveRun, StorePort

from ..helpers import NOW, SCOPE, automation, run

__all__ = [
    "SIBLING",
    "Feed",
    "asking",
    "cancelled",
    "create_automation",
    "create_run",
    "renamed",
    "scheduled",
    "started",
]

SIBLING = Scope(SCOPE.project, "/repo/a-sibling")
"""The same project as `SCOPE` in another owner directory: another scope all the same."""


async def create_automation(
    store: StorePort, scope: Scope = SCOPE, title: str = "Brief"
) -> Automation:
    """A new automation of `scope`, created and durable."""
    created = automation(title, project=scope.project)
    await store.create_automation(scope, created)
    return created


async def create_run(
    store: StorePort,
    scope: Scope,
    new: Run,
    *,
    writer_key: str | None = None,
    owner: str | None = None,
) -> int:
    """Record a new run (its first revision); its journal sequence number."""
    return await store.write(
        SaveRun(scope, new, expected_revision=None, at=NOW, writer_key=writer_key, owner=owner)
    )


def renamed(current: Automation, title: str) -> Automation:
    """The next revision of `current`, as an update makes it."""
    return msgspec.structs.replace(
        current,
        title=title,
        revision=current.revision + 1,
        updated_at=current.updated_at + timedelta(seconds=1),
    )


def scheduled(automation_id: str, slot: datetime, trigger: Trigger = Trigger.SCHEDULE) -> Run:
    """A new run of the slot `slot`."""
    return run(automation_id, trigger=trigger, triggered_at=slot)


def started(current: Run) -> Run:
    return advance(current, RunState.RUNNING, at=NOW)


def asking(current: Run) -> Run:
    """`current` waiting on a question (blocker `blocker-1`)."""
    blocker = Blocker(id="blocker-1", request=Question("Go on?"), asked_at=NOW)
    return advance(current, RunState.AWAITING_INPUT, at=NOW, blocker=blocker)


def cancelled(current: Run) -> Run:
    return advance(current, RunState.STOPPED, at=NOW, stop_reason=StopReason.CANCELLED)


class Feed:
    """A commit listener that keeps what it heard, and the threads it was called on."""

    def __init__(self) -> None:
        self.heard: list[tuple[Scope, Event]] = []
        self.threads: set[int] = set()

    def __call__(self, scope: Scope, event: Event) -> None:
        self.heard.append((scope, event))
        self.threads.add(threading.get_ident())

    @property
    def seqs(self) -> list[int]:
        return [event.seq for _, event in self.heard]
