"""What the doctor makes of a store's report: findings, each with what to do.

The store judges itself (`StoreHealth.checks`); here the facts every store shares
are judged against the time: a lease nobody alive holds or renews, runs in a state
for longer than expected, automations whose next fire went by without firing.
"""

from __future__ import annotations

import shlex
from datetime import timedelta

import msgspec

from ..actors import STALE_SECONDS
from ..model import Scope, from_ms
from ..persistence import HANDED_OVER, ActiveRunFact, LeaseFact, ScopeFact, Severity, StoreHealth
from ._render import relative

__all__ = ["Finding", "Thresholds", "judge"]

RUNNING_GRACE_MS = 60_000
"""How long past its `max_duration` a run may take to be stopped."""


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    check: str
    severity: Severity
    detail: str
    advice: str = ""
    subject: str | None = None
    """The scope, run or automation it is about, if any."""


class Thresholds(msgspec.Struct, frozen=True, kw_only=True):
    stuck_after_ms: int
    """A run scheduled, awaiting input, or running (without `max_duration`) longer
    than this is reported."""
    late_after_ms: int
    """An automation whose next fire is this far in the past is overdue."""


def judge(health: StoreHealth, now_ms: int, limits: Thresholds) -> list[Finding]:
    """Every finding about `health` as of `now_ms` (wall-clock epoch ms)."""
    found = [
        Finding(check=c.name, severity=c.severity, detail=c.detail, advice=c.advice)
        for c in health.checks
    ]
    if not health.readable:
        return found
    leases = {lease.scope: lease for lease in health.leases}
    led = {scope for scope, lease in leases.items() if _led(lease, now_ms)}
    for fact in health.scopes:
        if fact.scheduled:
            found.append(_lease_finding(fact, leases.get(fact.scope), now_ms))
    runs = [f for run in health.active_runs if (f := _run_finding(run, now_ms, limits))]
    found.extend(runs)
    if not runs:
        count = len(health.active_runs)
        found.append(Finding(check="runs", severity="ok", detail=f"{count} active, none stuck"))
    for late in health.overdue:
        cause = (
            "its worker is behind: see the lease above, and --max-scheduled-runs of `serve`"
            if late.scope in led
            else f"no worker leads its scope: start `automations serve {_flags(late.scope)}`"
        )
        found.append(
            Finding(
                check="schedules",
                severity="error",
                detail=f"the next fire of {late.automation_id} was "
                f"{_ago(late.next_fire_ms, now_ms)} and has not happened",
                advice=cause,
                subject=late.automation_id,
            )
        )
    if (more := health.overdue_total - len(health.overdue)) > 0:
        found.append(
            Finding(
                check="schedules",
                severity="error",
                detail=f"and {more} more automations are overdue",
                advice="see those above",
            )
        )
    if not health.overdue_total:
        found.append(Finding(check="schedules", severity="ok", detail="no automation is overdue"))
    return found


def _led(lease: LeaseFact, now_ms: int) -> bool:
    return lease.holder_alive is True and now_ms - lease.renewed_ms <= STALE_SECONDS * 1000


def _lease_finding(fact: ScopeFact, lease: LeaseFact | None, now_ms: int) -> Finding:
    scope = fact.scope
    subject = _name(scope)
    serve = f"start `automations serve {_flags(scope)}`"
    waiting = f"{fact.scheduled} scheduled automations do not fire"
    if lease is None:
        return Finding(
            check="lease",
            severity="error",
            detail=f"no worker ever led {subject}: {waiting}",
            advice=serve,
            subject=subject,
        )
    held = (
        f"held by {lease.holder} (epoch {lease.epoch}) since "
        f"{_ago(lease.acquired_ms, now_ms)}, renewed {_ago(lease.renewed_ms, now_ms)}"
    )
    if lease.holder_alive is False:
        return Finding(
            check="lease",
            severity="error",
            detail=f"the lease of {subject} was {held}; that process is gone: {waiting}",
            advice=serve,
            subject=subject,
        )
    if lease.holder_alive is None:
        return Finding(
            check="lease",
            severity="warning",
            detail=f"the lease of {subject} is {held}; whether that process lives cannot be "
            "told from here",
            advice="run the doctor as the user the workers run as",
            subject=subject,
        )
    if now_ms - lease.renewed_ms > STALE_SECONDS * 1000:
        return Finding(
            check="lease",
            severity="error",
            detail=f"the lease of {subject} is {held}: its holder lives but stopped renewing "
            f"(frozen, or starved); a standby takes over after {STALE_SECONDS:g} s",
            advice=f"look at process {lease.holder} (its name holds its host and pid)",
            subject=subject,
        )
    return Finding(check="lease", severity="ok", detail=f"{subject}: {held}", subject=subject)


def _run_finding(run: ActiveRunFact, now_ms: int, limits: Thresholds) -> Finding | None:
    since = _ago(run.since_ms, now_ms)
    what = f"run {run.run_id} of {run.automation_id} is {run.state} since {since}"
    if run.owner_alive is False and run.owner != HANDED_OVER:  # handed over: not lost
        return Finding(
            check="runs",
            severity="error",
            detail=f"{what}, but its process {run.owner} is gone",
            advice=f"the next worker to lead {_name(run.scope)} takes it over (start "
            f"`automations serve {_flags(run.scope)}`), or end it: automations cancel {run.run_id}",
            subject=run.run_id,
        )
    age = now_ms - run.since_ms
    if run.state == "running":
        limit = limits.stuck_after_ms
        if run.max_duration_ms is not None:
            limit = run.max_duration_ms + RUNNING_GRACE_MS
        if age <= limit:
            return None
        return Finding(
            check="runs",
            severity="warning",
            detail=f"{what}: longer than the {_span(limit)} expected",
            advice=f"its executor may hang: see `automations run-info {run.run_id}`, "
            f"then `automations cancel {run.run_id}`",
            subject=run.run_id,
        )
    if age <= limits.stuck_after_ms:
        return None
    if run.state == "awaiting_input":
        advice = (
            f"it waits on a person: automations answer {run.run_id} "
            f"(or automations cancel {run.run_id})"
        )
    else:
        advice = (
            "a run ahead of it holds its writer key, or the worker runs as many as "
            f"--max-scheduled-runs allows: see `automations runs {run.automation_id}`"
        )
    return Finding(
        check="runs",
        severity="warning",
        detail=f"{what}: longer than {_span(limits.stuck_after_ms)}",
        advice=advice,
        subject=run.run_id,
    )


def _name(scope: Scope) -> str:
    return f"project {scope.project!r} in {scope.directory}"


def _flags(scope: Scope) -> str:
    return f"--project {shlex.quote(scope.project)} --directory {shlex.quote(scope.directory)}"


def _ago(ms: int, now_ms: int) -> str:
    return f"{from_ms(ms):%Y-%m-%d %H:%M:%S} UTC ({relative(timedelta(milliseconds=ms - now_ms))})"


def _span(ms: int) -> str:
    return relative(timedelta(milliseconds=ms)).removeprefix("in ")
