"""Retries (the automation's `retry` policy): whether a failed run has a next attempt.

Pure, as `_derived` is. A failed run that is retried is recorded with its next attempt
in one transaction: a new run, `scheduled`, trigger `retry`, `triggered_at` the instant
it is due, `attempt` + 1 and `retry_of` the chain's first run. Waiting is then nothing
but a recorded run that has not started: it survives a restart as any run recorded
ahead of its slot does (the next lease holder starts it), and it starts at most once,
since `running` is a compare-and-swap on its revision, fenced by the lease epoch.
"""

from __future__ import annotations

import logging
from datetime import datetime

from ..model import (
    Automation,
    ContextMode,
    LeaseLost,
    NotRetryable,
    Retryable,
    Run,
    Trigger,
    new_run,
    new_run_id,
)
from ..persistence import CreateRun, PendingWrite, SaveRun, StorePort
from ._run_ledger import RunLedger
from ._run_phase import Decision, Fail

__all__ = ["NO_RETRY", "NextAttempt", "next_attempt", "retry_wish"]

log = logging.getLogger("automations.actors")


def retry_wish(error: BaseException) -> bool | None:
    """What an executor that raised `error` asks for: a retry, none, or nothing."""
    if isinstance(error, Retryable):
        return True
    if isinstance(error, NotRetryable):
        return False
    return None


def next_attempt(automation: Automation, run: Run, decision: Decision, now: datetime) -> Run | None:
    """The retry of `run`, ending with `decision` at `now`, as `automation`'s policy
    says; None when it is not retried (no policy, no attempts left, not a failure, or
    one that is never retried: a step cap, a question nobody answers)."""
    policy = automation.retry
    if policy is None or not isinstance(decision, Fail):
        return None
    if not policy.retries(decision.error.code, run.attempt, decision.retry):
        return None
    continued = automation.context is ContextMode.CONTINUE
    return new_run(
        id=new_run_id(),
        automation_id=run.automation_id,
        definition_revision=automation.revision,
        trigger=Trigger.RETRY,
        triggered_at=now + policy.delay(run.attempt),
        attended=run.attended,
        session_id=run.session_id if continued else None,
        attempt=run.attempt + 1,
        retry_of=run.retry_of or run.id,
    )


class NextAttempt:
    """A run's next attempt: submitted with its end, in the same transaction, and
    known once that commits. It runs `definition`, the one the run ran (a chain runs
    its first run's), fenced with `epoch`, the lease epoch the run was fired under."""

    __slots__ = ("_attempt", "_write", "definition", "epoch", "run")

    def __init__(self, automation: Automation | None) -> None:
        self.definition = automation
        self._attempt: Run | None = None
        """The attempt as first made: an end tried again records this one, so a
        commit whose outcome was unknown (a dropped connection) cannot leave two."""
        self._write: PendingWrite[list[int]] | None = None
        self.run: Run | None = None
        self.epoch: int | None = None

    def with_end(
        self, store: StorePort, ledger: RunLedger, decision: Decision
    ) -> PendingWrite[int]:
        """Submit the run's end and, if `decision` has one (and an earlier try of the
        same end did not record it already), its next attempt, due a backoff after the
        end, in one transaction."""
        definition = self.definition
        if self.run is not None or definition is None or definition.retry is None:
            return ledger.submit_end(decision)
        with store.together():
            end = ledger.submit_end(decision)
            assert isinstance(end.operation, SaveRun)
            ended_at = end.operation.run.completed_at
            assert ended_at is not None
            attempt = self._attempt or next_attempt(definition, ledger.run, decision, ended_at)
            if attempt is not None:
                self._attempt = attempt
                self._write = ledger.submit_retry(attempt, end.operation)
                self.epoch = ledger.epoch
        end.add_done_callback(lambda _: self._settle())
        return end

    def recorded(self) -> tuple[Automation, Run]:
        """The definition to run and the attempt, once recorded (`run` is set)."""
        assert self.definition is not None
        assert self.run is not None
        return self.definition, self.run

    def _settle(self) -> None:
        """The end's transaction is done: the attempt was recorded with it, or not."""
        write, self._write = self._write, None
        if write is None:
            return
        operation = write.operation
        assert isinstance(operation, CreateRun)
        attempt = operation.revisions[0]
        if write.error is None:
            self.run = attempt
        elif isinstance(write.error, LeaseLost):
            log.warning("%s not retried: this process lost the lease", attempt.retry_of)


NO_RETRY = NextAttempt(None)
"""Shared by the runs of automations without a policy (most): it never changes."""
