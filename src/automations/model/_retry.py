"""The retry policy of an automation, and the exceptions an executor raises to steer it.

A failed run is retried as a new run (`attempt` + 1, `retry_of` the chain's first run)
recorded `scheduled` at the instant it is due, so a waiting retry is durable like any
recorded run and is started at most once, by the compare-and-swap on its revision.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
from msgspec.structs import force_setattr

from ._enums import ErrorCode
from ._errors import AutomationError
from ._time import Millis, normalize_time

__all__ = [
    "MAX_ATTEMPTS",
    "RETRYABLE_CODES",
    "NotRetryable",
    "RetryPolicy",
    "Retryable",
    "retry_problems",
]

MAX_ATTEMPTS = 100
RETRYABLE_CODES = frozenset({ErrorCode.EXECUTION_FAILED, ErrorCode.TIMEOUT})
"""What `retry_on` may name: a step cap or a question nobody answers would fail the
same way again, so they are never retried."""
_MAX_BACKOFF = timedelta(days=7)


class RetryPolicy(
    msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """Retry a failed run up to `max_attempts` runs in all, waiting `backoff`, then
    `backoff * multiplier`, ... at most `max_backoff`, between attempts. A failure is
    retried when its code is in `retry_on`, or the executor raised `Retryable`; never
    when it raised `NotRetryable`."""

    max_attempts: int = 3
    backoff: Millis = timedelta(seconds=10)
    multiplier: float = 2.0
    max_backoff: Millis = timedelta(minutes=10)
    retry_on: tuple[ErrorCode, ...] = (ErrorCode.EXECUTION_FAILED, ErrorCode.TIMEOUT)

    def __post_init__(self) -> None:
        force_setattr(self, "backoff", normalize_time(self.backoff))
        force_setattr(self, "max_backoff", normalize_time(self.max_backoff))

    def delay(self, attempt: int) -> timedelta:
        """How long after attempt `attempt` (1 for the first run) failed the next one is due."""
        seconds = self.backoff.total_seconds() * self.multiplier ** (attempt - 1)
        limit = self.max_backoff.total_seconds()
        return timedelta(seconds=min(seconds, limit))

    def retries(self, code: ErrorCode, attempt: int, wish: bool | None) -> bool:
        """Whether attempt `attempt`, failed with `code`, is retried; `wish` is the
        executor's (`Retryable` True, `NotRetryable` False, None for neither)."""
        if attempt >= self.max_attempts or code not in RETRYABLE_CODES or wish is False:
            return False
        return wish is True or code in self.retry_on


class Retryable(AutomationError):
    """Raised by an executor whose failure is passing (a rate limit, a network blip):
    the run fails `execution_failed` and is retried if its automation's `retry` policy
    has attempts left, whatever its `retry_on` says."""


class NotRetryable(AutomationError):
    """Raised by an executor whose failure would only repeat: the run fails
    `execution_failed` and is not retried, whatever the policy says."""


def retry_problems(policy: RetryPolicy | None) -> list[tuple[str, str]]:
    """Every problem of a retry policy, by wire name."""
    if policy is None:
        return []
    problems: list[tuple[str, str]] = []
    if not 1 <= policy.max_attempts <= MAX_ATTEMPTS:
        problems.append(("retry.maxAttempts", f"max_attempts_out_of_range_1_{MAX_ATTEMPTS}"))
    if policy.backoff <= timedelta(0):
        problems.append(("retry.backoff", "duration_must_be_positive"))
    if policy.max_backoff < policy.backoff:
        problems.append(("retry.maxBackoff", "max_backoff_below_backoff"))
    elif policy.max_backoff > _MAX_BACKOFF:
        problems.append(("retry.maxBackoff", "backoff_above_7_days"))
    if not 1.0 <= policy.multiplier <= 10.0:
        problems.append(("retry.multiplier", "multiplier_out_of_range_1_10"))
    if any(code not in RETRYABLE_CODES for code in policy.retry_on):
        problems.append(("retry.retryOn", "error_code_never_retried"))
    return problems
