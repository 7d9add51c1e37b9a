"""The one exception hierarchy of the project, rooted at `AutomationError`.

Messages say what was wrong and what to do about it, because they reach people
through the CLI and through the logs of embedding applications.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._run import KeyHolder

__all__ = [
    "AutomationError",
    "BlockerRejected",
    "Conflict",
    "DatabaseRefused",
    "DuplicateKey",
    "DuplicateSlot",
    "IllegalTransition",
    "LeaseLost",
    "NotFound",
    "NotServed",
    "StepCapExceeded",
    "StorageError",
    "StoreClosed",
    "ValidationError",
    "WriterKeyBusy",
]


class AutomationError(Exception):
    """Base of every error raised by automations."""


class ValidationError(AutomationError, ValueError):
    """Bad input. `details` lists every problem at once as `(field, message)` pairs."""

    def __init__(self, details: Iterable[tuple[str, str]]) -> None:
        self.details: list[tuple[str, str]] = list(details)
        if not self.details:
            raise ValueError("ValidationError needs at least one (field, message) pair")
        text = "; ".join(f"{field}: {message}" for field, message in self.details)
        super().__init__(f"invalid input ({text})")


class NotFound(AutomationError, LookupError):
    """No such automation, run or blocker in this runtime's scope."""


class NotServed(AutomationError):
    """A client asked for something only a worker can do, and no worker serves its
    project and directory on that database."""


class Conflict(AutomationError):
    """A write lost a race: the stored revision is not the one the writer expected."""


class DuplicateSlot(Conflict):
    """A scheduled slot already has its run: a slot fires at most once."""


class DuplicateKey(Conflict):
    """Another automation of the scope has this idempotency key (`NewAutomation.key`)."""


class WriterKeyBusy(Conflict):
    """Another active run holds the writer key (worktree or automation) of this run;
    `holder` names it when the store could tell."""

    def __init__(self, message: str, holder: KeyHolder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class BlockerAnswered(Conflict):
    """The blocker a timeout would fail a run for was answered first: the run goes on."""


class IllegalTransition(AutomationError):
    """A run was asked to move to a state its current state cannot reach."""


class BlockerRejected(AutomationError):
    """Raised inside an unattended run's executor when its automation rejects blockers."""


class StepCapExceeded(AutomationError):
    """Raised inside an executor that took more steps than its automation allows."""


class LeaseLost(AutomationError):
    """This process no longer holds the scheduler lease; another one fires schedules."""


class StorageError(AutomationError):
    """The database could not do what was asked (disk full, I/O error, locked too long)."""


class DatabaseRefused(StorageError):
    """The file is not an automations database this code can use; it was left untouched."""


class StoreClosed(StorageError):
    """The store was closed; open a new runtime to go on."""
