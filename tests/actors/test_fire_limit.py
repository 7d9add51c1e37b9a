"""Permits of the fire limit: counted once each, granted to waiting slots in slot order
across schedulers, gathered into rounds (an eighth of the limit)."""

from __future__ import annotations

import pytest

from automations.actors import FireLimit, Permit


class Waiter:
    """A scheduler's side of the limit: what it was granted, and when it was told."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.grants: list[tuple[int, str, Permit]] = []
        self.wakes = 0
        self.gathers = 0

    def granted(self, slot_ms: int, automation_id: str, permit: Permit) -> None:
        self.grants.append((slot_ms, automation_id, permit))

    def wake(self) -> None:
        self.wakes += 1

    def gather(self) -> None:
        self.gathers += 1


def test_a_permit_released_twice_is_released_once() -> None:
    limit = FireLimit(2)
    first, second = limit.take(), limit.take()
    assert limit.available == 0
    first.release()
    first.release()
    assert limit.taken == 1
    second.release()
    assert limit.available == 2


def test_waiting_slots_are_granted_in_slot_order_whichever_scheduler_queued_them() -> None:
    limit = FireLimit(2)
    a, b = Waiter("a"), Waiter("b")
    limit.join(a)
    limit.join(b)
    for slot in (30, 10, 50):
        limit.wait(a, slot, f"a{slot}")
    for slot in (20, 40):
        limit.wait(b, slot, f"b{slot}")
    limit.grant()
    assert [g[1] for g in a.grants + b.grants] == ["a10", "b20"]
    assert (a.wakes, b.wakes, limit.waiting) == (1, 1, 3)
    a.grants[0][2].release()  # a round is one permit here: granted at once
    assert [g[1] for g in a.grants] == ["a10", "a30"]


def test_freed_permits_gather_until_a_round_is_free() -> None:
    limit = FireLimit(16)  # a round of 2
    a = Waiter("a")
    limit.join(a)
    permits = [limit.take() for _ in range(16)]
    for slot in range(3):
        limit.wait(a, slot, f"a{slot}")
    permits[0].release()
    assert (limit.gathering, a.gathers, a.grants) == (True, 1, [])  # told to grant soon
    permits[1].release()  # a round is free: granted at once
    assert (limit.gathering, [g[1] for g in a.grants]) == (False, ["a0", "a1"])


def test_a_scheduler_that_leaves_takes_its_waiting_slots_with_it() -> None:
    limit = FireLimit(1)
    a, b = Waiter("a"), Waiter("b")
    limit.join(a)
    limit.join(b)
    held = limit.take()
    limit.wait(a, 1, "a1")
    limit.wait(b, 2, "b2")
    limit.leave(a)
    held.release()
    assert (a.grants, [g[1] for g in b.grants]) == ([], ["b2"])


def test_taking_past_the_limit_is_refused() -> None:
    limit = FireLimit(1)
    limit.take()
    with pytest.raises(RuntimeError, match="no permit is free"):
        limit.take()


@pytest.mark.parametrize(("bound", "round_"), [(None, 1), (1, 1), (15, 1), (16, 2), (1000, 125)])
def test_a_round_is_an_eighth_of_the_limit(bound: int | None, round_: int) -> None:
    limit = FireLimit(bound)
    assert limit.round == round_
    if bound is None:
        assert limit.available == float("inf")
