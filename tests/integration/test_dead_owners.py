"""A dead process's liveness lock, held by several tasks of one process at once: a
fleet worker's cells reconcile its runs in their scopes side by side."""

from __future__ import annotations

import anyio
import pytest

from automations.actors._dead_owners import _locked, holding_dead
from automations.actors._lease import holder_alive
from automations.persistence import open_store

pytestmark = pytest.mark.anyio

GONE = "vm-gone-0001"


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
