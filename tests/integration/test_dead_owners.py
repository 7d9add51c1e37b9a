"""A dead process's liveness lock, held by several tasks of one process at once: a
fleet worker's cells reconcile its runs in their scopes side by side."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from automations.actors import _dead_owners
from automations.actors._dead_owners import _holds, _locked, holding_dead
from automations.actors._lease import holder_alive
from automations.persistence import open_store

pytestmark = pytest.mark.anyio

GONE = "vm-gone-0001"


@pytest.fixture(autouse=True)
def _nothing_left_held() -> Iterator[None]:
    yield
    assert _holds == {} and _locked == {}


async def test_cells_of_one_process_share_a_dead_process_s_lock(location: str) -> None:
    async with open_store(location) as store:
        entered: list[bool] = []
        left: list[int] = []
        all_in, two_out = anyio.Event(), anyio.Event()

        async def cell(index: int, leave: anyio.Event) -> None:
            async with holding_dead(store, GONE) as dead:
                entered.append(dead)
                if len(entered) == 3:
                    all_in.set()
                await leave.wait()
            left.append(index)
            if len(left) == 2:
                two_out.set()

        leaves = [anyio.Event() for _ in range(3)]
        probe = store.liveness_lock(GONE)
        async with anyio.create_task_group() as tg:
            for index, leave in enumerate(leaves):
                tg.start_soon(cell, index, leave)
            await all_in.wait()
            assert entered == [True, True, True]  # none took it for alive
            assert GONE in _locked
            assert not await holder_alive(store, GONE)  # held here: dead, not alive
            leaves[0].set()
            leaves[1].set()
            await two_out.wait()
            assert GONE in _locked  # the last cell still holds it
            assert not await anyio.to_thread.run_sync(probe.try_acquire)
            leaves[2].set()
        assert GONE not in _locked
        assert await anyio.to_thread.run_sync(probe.try_acquire)  # let go at the end
        await anyio.to_thread.run_sync(probe.release)


async def test_a_live_process_s_lock_is_not_taken(location: str) -> None:
    async with open_store(location) as store, store.hold_liveness(GONE):
        other = store.liveness_lock(GONE)
        # Held by this process's own liveness (as if another process held it).
        async with holding_dead(store, GONE) as dead:
            assert not dead
        assert GONE not in _locked
        assert not other.held
        assert await holder_alive(store, GONE)


async def test_a_cell_coming_while_the_lock_is_let_go_takes_it_anew(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a share of the hold being let go: it would go on with nothing held, and
    this process would take the dead one for alive."""
    gate, letting_go = threading.Event(), threading.Event()
    let_go = _dead_owners._let_go

    def slow_let_go(hold: object, owner: str) -> None:
        letting_go.set()
        gate.wait(10)
        let_go(hold, owner)  # type: ignore[arg-type]

    monkeypatch.setattr(_dead_owners, "_let_go", slow_let_go)
    async with open_store(location) as store:
        second_in = anyio.Event()

        async def second() -> None:
            async with holding_dead(store, GONE) as dead:
                assert dead
                assert GONE in _locked and _locked[GONE] is _holds[GONE]
                assert not await holder_alive(store, GONE)
                holds.append(_holds[GONE])
                second_in.set()

        holds: list[object] = []
        entered, leave = anyio.Event(), anyio.Event()

        async def first() -> None:
            async with holding_dead(store, GONE) as dead:
                assert dead
                holds.append(_holds[GONE])
                entered.set()
                await leave.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await entered.wait()
            leave.set()
            # The first cell is letting go (in its thread, held at the gate).
            await anyio.to_thread.run_sync(letting_go.wait, 10)
            tg.start_soon(second)
            await anyio.lowlevel.checkpoint()
            assert not second_in.is_set()  # it waits for the letting go
            gate.set()
            with anyio.fail_after(10):
                await second_in.wait()
        assert holds[0] is not holds[1]  # a hold of its own, taken anew
