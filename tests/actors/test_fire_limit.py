"""Permits of the fire limit: counted once each, and a round is an eighth of the limit."""

from __future__ import annotations

import pytest

from automations.actors import FireLimit


def test_a_permit_released_twice_is_released_once() -> None:
    freed: list[int] = []
    limit = FireLimit(2)
    limit.on_freed(lambda: freed.append(limit.taken))
    first, second = limit.take(), limit.take()
    assert limit.available == 0
    first.release()
    first.release()
    assert (limit.taken, freed) == (1, [1])
    second.release()
    assert (limit.available, freed) == (2, [1, 0])


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
