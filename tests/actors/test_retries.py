"""Retries as pure functions: the policy's delays, which failures it retries, the next
attempt's record, and what a chain does to the derived fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import automations as am
from automations.actors._derived import after_terminal
from automations.actors._retries import next_attempt, retry_wish
from automations.actors._run_phase import Fail, Stop, Succeed
from automations.model import RunError, RunState, advance, new_run, retry_problems
from automations.schedules import build_automation

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TEN_S = timedelta(seconds=10)


def _automation(retry: am.RetryPolicy | None, **changes: object) -> am.Automation:
    new = am.NewAutomation(
        title="Feed",
        prompt="p",
        timezone="UTC",
        schedule=am.Cron("0 9 * * *"),
        retry=retry,
        **changes,  # type: ignore[arg-type]
    )
    return build_automation(new, id="automation_1", project="p", now=NOW)


def _run(trigger: am.Trigger = am.Trigger.SCHEDULE) -> am.Run:
    return new_run(
        id="automation_run_1",
        automation_id="automation_1",
        definition_revision=1,
        trigger=trigger,
        triggered_at=NOW,
        attended=False,
    )


def _failed(code: am.ErrorCode = am.ErrorCode.EXECUTION_FAILED, wish: bool | None = None) -> Fail:
    return Fail.because(code, "overloaded", retry=wish)


def test_the_backoff_grows_by_the_multiplier_up_to_its_maximum() -> None:
    policy = am.RetryPolicy(max_attempts=9, backoff=TEN_S, max_backoff=timedelta(seconds=60))
    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 60, 60]


@given(
    backoff=st.integers(1, 10_000),
    multiplier=st.floats(1.0, 10.0),
    attempt=st.integers(1, 100),
)
def test_a_delay_is_never_below_the_backoff_nor_above_its_maximum(
    backoff: int, multiplier: float, attempt: int
) -> None:
    first = timedelta(seconds=backoff)
    policy = am.RetryPolicy(
        max_attempts=100, backoff=first, multiplier=multiplier, max_backoff=first * 3
    )
    assert first <= policy.delay(attempt) <= first * 3


def test_a_failure_is_retried_as_the_policy_and_the_executor_say() -> None:
    policy = am.RetryPolicy(max_attempts=3, retry_on=(am.ErrorCode.TIMEOUT,))
    assert policy.retries(am.ErrorCode.TIMEOUT, 1, None)
    assert not policy.retries(am.ErrorCode.EXECUTION_FAILED, 1, None)  # not chosen
    assert policy.retries(am.ErrorCode.EXECUTION_FAILED, 1, True)  # Retryable asks
    assert not policy.retries(am.ErrorCode.TIMEOUT, 1, False)  # NotRetryable refuses
    assert not policy.retries(am.ErrorCode.TIMEOUT, 3, None)  # no attempts left
    for never in (am.ErrorCode.STEP_CAP, am.ErrorCode.NEEDS_USER_INPUT):
        assert not policy.retries(never, 1, True)
    assert retry_wish(am.Retryable("rate limited")) is True
    assert retry_wish(am.NotRetryable("bad prompt")) is False
    assert retry_wish(RuntimeError("boom")) is None


def test_the_next_attempt_is_a_run_due_after_the_backoff_linked_to_the_first() -> None:
    a = _automation(am.RetryPolicy(max_attempts=3, backoff=TEN_S))
    first = _run()
    second = next_attempt(a, first, _failed(), NOW)
    assert second is not None
    assert (second.state, second.trigger, second.attempt) == (
        am.RunState.SCHEDULED,
        am.Trigger.RETRY,
        2,
    )
    assert second.triggered_at == NOW + TEN_S and second.retry_of == first.id
    assert second.slot is None  # not a slot: the once-per-slot index leaves it alone
    third = next_attempt(a, second, _failed(), NOW + TEN_S)
    assert third is not None and third.retry_of == first.id
    assert third.triggered_at == NOW + 3 * TEN_S and third.attempt == 3
    assert next_attempt(a, third, _failed(), NOW) is None  # three attempts in all


@pytest.mark.parametrize(
    "decision",
    [Succeed("done"), Stop(am.StopReason.CANCELLED), _failed(am.ErrorCode.STEP_CAP)],
    ids=["succeeded", "cancelled", "step-cap"],
)
def test_only_a_retryable_failure_has_a_next_attempt(
    decision: Succeed | Stop | Fail,
) -> None:
    a = _automation(am.RetryPolicy(max_attempts=5))
    assert next_attempt(a, _run(), decision, NOW) is None
    assert next_attempt(_automation(None), _run(), _failed(), NOW) is None


def test_a_chain_counts_once_toward_the_streak_and_the_count_stop() -> None:
    a = _automation(am.RetryPolicy(max_attempts=3), stop=am.AfterCount(5))
    error = RunError(am.ErrorCode.EXECUTION_FAILED, "overloaded")
    started = advance(_run(), RunState.RUNNING, at=NOW)
    failed = advance(started, RunState.FAILED, at=NOW, error=error)
    a = after_terminal(a, failed, now=NOW, idle=False, retried=True)
    assert (a.failure_streak, a.executed_runs) == (0, 1)  # counted once, by its first run
    retry = next_attempt(a, failed, _failed(), NOW)
    assert retry is not None
    last = advance(advance(retry, RunState.RUNNING, at=NOW), RunState.FAILED, at=NOW, error=error)
    a = after_terminal(a, last, now=NOW, idle=True)
    assert (a.failure_streak, a.executed_runs) == (1, 1)


def test_a_policy_s_problems_are_named_by_their_wire_fields() -> None:
    bad = am.RetryPolicy(
        max_attempts=0,
        backoff=timedelta(0),
        multiplier=0.5,
        max_backoff=timedelta(days=30),
        retry_on=(am.ErrorCode.NEEDS_USER_INPUT,),
    )
    assert retry_problems(bad) == [
        ("retry.maxAttempts", "max_attempts_out_of_range_1_100"),
        ("retry.backoff", "duration_must_be_positive"),
        ("retry.maxBackoff", "backoff_above_7_days"),
        ("retry.multiplier", "multiplier_out_of_range_1_10"),
        ("retry.retryOn", "error_code_never_retried"),
    ]
    with pytest.raises(am.ValidationError) as raised:
        _automation(bad)
    assert ("retry.maxAttempts", "max_attempts_out_of_range_1_100") in raised.value.details
