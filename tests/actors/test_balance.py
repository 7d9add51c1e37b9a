"""The balancing planner: fair shares within the slack, as few moves as that allows,
no scope unowned while a worker lives, and the same plan from the same facts."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from automations.actors._balance import Plan, bounds, plan

WORKERS = [f"w{i}" for i in range(6)]
GONE = ["dead1", "dead2"]


@st.composite
def fleets(
    draw: st.DrawFn,
) -> tuple[dict[str, int | None], list[str], dict[str, str], int]:
    """Live workers with capacities, scopes, current holders (some gone), a slack."""
    live = draw(st.lists(st.sampled_from(WORKERS), unique=True, max_size=5))
    capacity = st.one_of(st.none(), st.integers(min_value=1, max_value=20))
    capacities = {w: draw(capacity) for w in live}
    scopes = [f"s{i:03d}" for i in range(draw(st.integers(min_value=0, max_value=80)))]
    holder = st.one_of(st.none(), st.sampled_from(WORKERS + GONE))
    holders = {s: h for s in scopes if (h := draw(holder)) is not None}
    slack = draw(st.integers(min_value=0, max_value=3))
    return capacities, scopes, holders, slack


def _count(result: Plan, worker: str) -> int:
    return sum(1 for w in result.assignment.values() if w == worker)


def _fewest_moves(
    capacities: dict[str, int | None], scopes: list[str], holders: dict[str, str], slack: int
) -> int:
    """A lower bound on the moves of any plan within the bounds: every orphan moves,
    a worker over its high bound loses its excess, one under its low bound gains what
    it lacks."""
    limits = bounds(len(scopes), capacities, slack)
    orphans = sum(1 for s in scopes if holders.get(s) not in limits)
    held = {w: sum(1 for s in scopes if holders.get(s) == w) for w in limits}
    over = sum(max(0, held[w] - limits[w].high) for w in limits)
    under = sum(max(0, limits[w].low - held[w]) for w in limits)
    return max(orphans + over, under)


@settings(max_examples=120, deadline=None)
@given(fleets())
def test_every_scope_has_a_live_worker_within_its_fair_share(
    fleet: tuple[dict[str, int | None], list[str], dict[str, str], int],
) -> None:
    capacities, scopes, holders, slack = fleet
    result = plan(capacities, scopes, holders, slack)
    if not capacities:
        assert result.assignment == {} and result.take == {}
        return
    assert sorted(result.assignment) == scopes
    assert set(result.assignment.values()) <= set(capacities)
    limits = bounds(len(scopes), capacities, slack)
    assert sum(b.quota for b in limits.values()) == len(scopes)
    known = [c for c in capacities.values() if c is not None]
    weights = {w: c if c is not None else max(known, default=1) for w, c in capacities.items()}
    for worker in capacities:
        share = len(scopes) * weights[worker] / sum(weights.values())
        assert math.floor(share) - slack <= _count(result, worker) <= math.ceil(share) + slack


@settings(max_examples=120, deadline=None)
@given(fleets())
def test_a_plan_moves_no_more_scopes_than_it_must(
    fleet: tuple[dict[str, int | None], list[str], dict[str, str], int],
) -> None:
    capacities, scopes, holders, slack = fleet
    result = plan(capacities, scopes, holders, slack)
    if capacities:
        assert result.moves == _fewest_moves(capacities, scopes, holders, slack)
    for worker, taken in result.take.items():
        assert all(result.assignment[s] == worker and holders.get(s) != worker for s in taken)
    for holder, given_up in result.give_up.items():
        assert all(holders[s] == holder and result.assignment.get(s) != holder for s in given_up)
    moved = {s for s in scopes if holders.get(s) != result.assignment.get(s)}
    assert moved == {s for taken in result.take.values() for s in taken} | {
        s for given in result.give_up.values() for s in given
    }
    again = plan(capacities, scopes, result.assignment, slack)  # carried out: it is stable
    assert again.moves == 0 and again.give_up == {}


@settings(max_examples=80, deadline=None)
@given(fleets(), st.randoms(use_true_random=False))
def test_the_same_facts_in_any_order_give_the_same_plan(
    fleet: tuple[dict[str, int | None], list[str], dict[str, str], int], shuffle: random.Random
) -> None:
    capacities, scopes, holders, slack = fleet
    items, order, held = list(capacities.items()), list(scopes), list(holders.items())
    for values in (items, order, held):
        shuffle.shuffle(values)
    assert plan(dict(items), order, dict(held), slack) == plan(capacities, scopes, holders, slack)


def test_a_worker_that_joins_takes_its_share_and_one_that_leaves_hands_over_only_its_own() -> None:
    scopes = [f"scope-{i:04d}" for i in range(1000)]
    three = {"a": 10, "b": 10, "c": 10}
    start = plan(three, scopes, {})
    assert sorted(_count(start, w) for w in three) == [333, 333, 334]

    joined = plan({**three, "d": 10}, scopes, start.assignment)
    assert 249 <= _count(joined, "d") <= 251 and set(joined.take) == {"d"}
    assert joined.moves == _count(joined, "d")  # only the newcomer's share moved

    left = plan({"a": 10, "b": 10, "d": 10}, scopes, joined.assignment)
    assert set(left.give_up) == {"c"}  # the scopes of the one that left, and no others
    assert left.moves == _count(joined, "c")
    assert all(332 <= _count(left, w) <= 335 for w in ("a", "b", "d"))


def test_a_worker_with_more_capacity_leads_more_scopes() -> None:
    scopes = [f"s{i}" for i in range(100)]
    result = plan({"small": 10, "large": 30, "unbounded": None}, scopes, {})
    assert (_count(result, "small"), _count(result, "large")) == (14, 43)
    assert _count(result, "unbounded") == 43  # weighs as the largest bound


def test_without_a_live_worker_every_holder_gives_up() -> None:
    result = plan({}, ["s1", "s2"], {"s1": "gone", "s3": "gone"})
    assert result.assignment == {} and result.moves == 0
    assert result.give_up == {"gone": ("s1", "s3")}
