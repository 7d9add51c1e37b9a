"""The balancing planner of a fleet: which worker should lead which scope.

Pure: no I/O, no clock, no randomness, so that every worker that reads the same
heartbeat rows and lease rows computes the same plan, and a test can check it on any
input. Each live worker has a weight (its capacity; a worker with no bound weighs as
the largest bound among the others, 1 when none has one) and so a fair share of the
scopes, `len(scopes) * weight / total weight`. A plan keeps every worker within
`floor(share) - slack .. ceil(share) + slack` and moves as few scopes as that allows:
a scope whose holder is gone moves (it must), a worker over its bound gives up only
its excess, a worker under its bound takes only what it lacks. The small slack is
what keeps leases still while the fleet is about balanced: a worker that joins takes
a share from the others, one that leaves hands its scopes to those with room.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping

import msgspec

__all__ = ["DEFAULT_SLACK", "Bounds", "Plan", "bounds", "plan"]

DEFAULT_SLACK = 1
"""Scopes a worker may hold beyond (or lack below) its fair share, unmoved."""


class Bounds(msgspec.Struct, frozen=True, gc=False):
    """How many scopes a worker should lead: at least `low`, at most `high`; its
    `quota` (the fair share, rounded so that the quotas add up) in between."""

    low: int
    quota: int
    high: int


class Plan(msgspec.Struct, frozen=True, gc=False):
    """Who leads each scope once the plan is carried out, and the moves to get there."""

    assignment: dict[str, str]
    """Scope to its worker: every scope when there is a live worker, none otherwise."""
    take: dict[str, tuple[str, ...]]
    """Per worker, the scopes it should take (sorted); only workers with some."""
    give_up: dict[str, tuple[str, ...]]
    """Per holder (live or not), the scopes it should give up (sorted)."""

    @property
    def moves(self) -> int:
        return sum(len(scopes) for scopes in self.take.values())


def bounds(
    scopes: int, capacities: Mapping[str, int | None], slack: int = DEFAULT_SLACK
) -> dict[str, Bounds]:
    """Each worker's bounds over `scopes` scopes, given its capacity (None: no bound)."""
    if not capacities:
        return {}
    known = [c for c in capacities.values() if c is not None]
    default = max(known, default=1)
    weights = {w: max(1, default if c is None else c) for w, c in capacities.items()}
    total = sum(weights.values())
    shares = {w: scopes * weight / total for w, weight in weights.items()}
    quotas = {w: math.floor(share) for w, share in shares.items()}
    # Largest remainders first (then by id) get the scopes the floors left over.
    left = scopes - sum(quotas.values())
    for w in sorted(shares, key=lambda w: (quotas[w] - shares[w], w))[:left]:
        quotas[w] += 1
    return {
        w: Bounds(
            low=max(0, math.floor(share) - slack),
            quota=quotas[w],
            high=math.ceil(share) + slack,
        )
        for w, share in shares.items()
    }


def plan(
    capacities: Mapping[str, int | None],
    scopes: Iterable[str],
    holders: Mapping[str, str],
    slack: int = DEFAULT_SLACK,
) -> Plan:
    """The plan for the live workers `capacities` (id to capacity) over `scopes`, from
    the current `holders` (scope to worker id; a holder that is not live, or a scope
    without one, is orphaned)."""
    if slack < 0:
        raise ValueError(f"slack must be 0 or more, not {slack}")
    everything = sorted(set(scopes))
    limits = bounds(len(everything), capacities, slack)
    held: dict[str, list[str]] = {w: [] for w in sorted(limits)}
    pool: list[str] = []
    for scope in everything:
        holder = holders.get(scope)
        mine = None if holder is None else held.get(holder)
        (pool if mine is None else mine).append(scope)
    if not held:
        return _plan({}, holders, everything)
    for worker, mine in held.items():  # over its bound: give up the excess, last first
        while len(mine) > limits[worker].high:
            pool.append(mine.pop())
    _fill(held, limits, pool)
    _lift(held, limits)
    assignment = {scope: worker for worker, mine in held.items() for scope in mine}
    return _plan(assignment, holders, everything)


def _fill(held: dict[str, list[str]], limits: dict[str, Bounds], pool: list[str]) -> None:
    """Hand out the scopes of `pool`: first to the workers below their low bound, then
    to the workers furthest below their quota (each under its high bound)."""
    pool.sort()
    next_one = 0
    for worker, mine in held.items():
        lacking = min(limits[worker].low - len(mine), len(pool) - next_one)
        if lacking > 0:
            mine.extend(pool[next_one : next_one + lacking])
            next_one += lacking
    room = [(len(mine) - limits[w].quota, w) for w, mine in held.items()]
    heapq.heapify(room)
    for scope in pool[next_one:]:
        while True:
            _, worker = heapq.heappop(room)
            if len(held[worker]) < limits[worker].high:
                break
        held[worker].append(scope)
        heapq.heappush(room, (len(held[worker]) - limits[worker].quota, worker))


def _lift(held: dict[str, list[str]], limits: dict[str, Bounds]) -> None:
    """Bring each worker still below its low bound up, one scope at a time, from the
    worker furthest above its quota (a newcomer takes its share from the others)."""
    for worker in held:
        while len(held[worker]) < limits[worker].low:
            donor = max(
                (w for w in held if w != worker and len(held[w]) > limits[w].low),
                key=lambda w: (len(held[w]) - limits[w].quota, w),
            )
            held[worker].append(held[donor].pop())


def _plan(assignment: dict[str, str], holders: Mapping[str, str], scopes: list[str]) -> Plan:
    """The moves from `holders` to `assignment`; a held scope that is no longer among
    `scopes` (its automations are gone) is given up too."""
    take: dict[str, list[str]] = {}
    give_up: dict[str, list[str]] = {}
    for scope in sorted(set(scopes) | set(holders)):
        before, after = holders.get(scope), assignment.get(scope)
        if before == after:
            continue
        if after is not None:
            take.setdefault(after, []).append(scope)
        if before is not None:
            give_up.setdefault(before, []).append(scope)
    return Plan(
        assignment=assignment,
        take={w: tuple(sorted(s)) for w, s in sorted(take.items())},
        give_up={w: tuple(sorted(s)) for w, s in sorted(give_up.items())},
    )
