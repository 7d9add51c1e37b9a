"""The doctor's judgement of a store's facts, against the time and its thresholds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from automations.cli._diagnosis import Finding, Thresholds, judge
from automations.model import Scope
from automations.persistence import ActiveRunFact, LeaseFact, ScopeFact, StoreHealth

NOW = 1_800_000_000_000
HOUR = 3_600_000
LIMITS = Thresholds(stuck_after_ms=HOUR, late_after_ms=120_000)
SCOPE = Scope("p", "/repo")


def health(**facts: object) -> StoreHealth:
    return StoreHealth(
        store="sqlite",
        location="x.db",
        checks=(),
        readable=True,
        scopes=(ScopeFact(scope=SCOPE, automations=1, scheduled=1),),
        **facts,  # type: ignore[arg-type]
    )


def lease(*, alive: bool | None = True, renewed_ago: int = 100) -> LeaseFact:
    return LeaseFact(
        scope=SCOPE,
        epoch=3,
        holder="host:42:abc",
        acquired_ms=NOW - HOUR,
        renewed_ms=NOW - renewed_ago,
        holder_alive=alive,
    )


def run(state: str, age_ms: int, *, max_duration_ms: int | None = None) -> ActiveRunFact:
    return ActiveRunFact(
        scope=SCOPE,
        run_id="automation_run_1",
        automation_id="automation_1",
        state=state,
        since_ms=NOW - age_ms,
        owner="host:42:abc",
        owner_alive=True,
        max_duration_ms=max_duration_ms,
    )


def by_check(findings: list[Finding], check: str) -> Finding:
    (found,) = [f for f in findings if f.check == check]
    return found


def test_a_holder_that_lives_but_stopped_renewing_is_an_error() -> None:
    found = by_check(judge(health(leases=(lease(renewed_ago=30_000),)), NOW, LIMITS), "lease")
    assert found.severity == "error" and "stopped renewing" in found.detail
    assert "host:42:abc" in found.advice


def test_a_live_renewing_holder_is_ok_and_says_who_and_since_when() -> None:
    found = by_check(judge(health(leases=(lease(),)), NOW, LIMITS), "lease")
    assert found.severity == "ok"
    assert "held by host:42:abc (epoch 3) since" in found.detail and "1h 0m ago" in found.detail


def test_a_lease_whose_holder_cannot_be_probed_is_a_warning() -> None:
    found = by_check(judge(health(leases=(lease(alive=None),)), NOW, LIMITS), "lease")
    assert found.severity == "warning"


@given(age=st.integers(min_value=0, max_value=10 * HOUR), max_duration=st.integers(0, 5 * HOUR))
def test_a_running_run_is_stuck_exactly_past_its_max_duration_and_a_minute(
    age: int, max_duration: int
) -> None:
    running = run("running", age, max_duration_ms=max_duration)
    facts = health(leases=(lease(),), active_runs=(running,))
    stuck = [f for f in judge(facts, NOW, LIMITS) if f.check == "runs" and f.severity != "ok"]
    assert bool(stuck) == (age > max_duration + 60_000)


@given(
    state=st.sampled_from(["scheduled", "awaiting_input", "running"]),
    age=st.integers(min_value=0, max_value=3 * HOUR),
)
def test_other_runs_are_stuck_past_the_threshold(state: str, age: int) -> None:
    facts = health(leases=(lease(),), active_runs=(run(state, age),))
    stuck = [f for f in judge(facts, NOW, LIMITS) if f.check == "runs" and f.severity != "ok"]
    assert bool(stuck) == (age > HOUR)
    if stuck and state == "awaiting_input":
        assert "automations answer automation_run_1" in stuck[0].advice


def test_an_unreadable_store_gives_only_its_own_checks() -> None:
    facts = StoreHealth(store="postgresql", location="postgresql://h/db", checks=(), readable=False)
    assert judge(facts, NOW, LIMITS) == []


def test_a_run_scheduled_to_start_later_is_not_stuck() -> None:
    later = run("scheduled", -3 * HOUR)  # a retry's backoff or a jittered start to come
    facts = health(leases=(lease(),), active_runs=(later,))
    assert [f.severity for f in judge(facts, NOW, LIMITS) if f.check == "runs"] == ["ok"]
