"""The process locks of leases and liveness: one holder at a time, seen from elsewhere.

The lease lock decides who leads a scope, the liveness lock tells others a process
is alive; two holders at once would fire a slot twice, or reconcile a live process's
runs. Each lock object is a holder of its own, as a process is.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from automations.persistence import ProcessLock, StorePort, lease_name

from ..helpers import OTHER, SCOPE
from .builders import SIBLING

pytestmark = pytest.mark.anyio

KINDS = ["lease", "liveness"]


@pytest.fixture
def taken() -> Iterator[list[ProcessLock]]:
    """Locks to let go of when the test ends, whatever it did."""
    locks: list[ProcessLock] = []
    yield locks
    for lock in locks:
        lock.release()


def _lock(store: StorePort, kind: str, name: str = "a") -> ProcessLock:
    """A new lock object: the lease lock of a scope, or the liveness lock of an owner."""
    if kind == "lease":
        return store.lease_lock(lease_name({"a": SCOPE, "b": OTHER, "c": SIBLING}[name]))
    return store.liveness_lock(f"process-{name}")


async def _acquire(lock: ProcessLock, taken: list[ProcessLock]) -> bool:
    taken.append(lock)
    return await anyio.to_thread.run_sync(lock.try_acquire)


async def _elsewhere(lock: ProcessLock) -> bool:
    return await anyio.to_thread.run_sync(lock.held_elsewhere)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_lock_is_handed_out_not_taken(store: StorePort, kind: str) -> None:
    lock = _lock(store, kind)
    assert not lock.held
    assert not await _elsewhere(lock)


@pytest.mark.parametrize("kind", KINDS)
async def test_one_holder_at_a_time(store: StorePort, kind: str, taken: list[ProcessLock]) -> None:
    first, second = _lock(store, kind), _lock(store, kind)
    assert await _acquire(first, taken) and first.held
    assert not await _acquire(second, taken) and not second.held
    await anyio.to_thread.run_sync(first.release)
    assert not first.held
    assert await _acquire(second, taken) and second.held
    assert not await _acquire(first, taken)


@pytest.mark.parametrize("kind", KINDS)
async def test_held_elsewhere_sees_another_holder_without_taking_the_lock(
    store: StorePort, kind: str, taken: list[ProcessLock]
) -> None:
    holder, prober = _lock(store, kind), _lock(store, kind)
    await _acquire(holder, taken)
    assert await _elsewhere(prober) and not prober.held
    assert not await _elsewhere(holder)  # it holds the lock itself
    await anyio.to_thread.run_sync(holder.release)
    assert not await _elsewhere(prober) and not prober.held  # a probe keeps nothing
    assert await _acquire(_lock(store, kind), taken)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_lock_released_and_removed_may_be_taken_again(
    store: StorePort, kind: str, taken: list[ProcessLock]
) -> None:
    first = _lock(store, kind)
    await _acquire(first, taken)
    await anyio.to_thread.run_sync(lambda: first.release(remove=True))
    second = _lock(store, kind)
    assert await _acquire(second, taken)
    assert await _elsewhere(_lock(store, kind))


@pytest.mark.parametrize("kind", KINDS)
async def test_locks_of_different_names_are_independent(
    store: StorePort, kind: str, taken: list[ProcessLock]
) -> None:
    locks = [_lock(store, kind, name) for name in "abc"]
    for lock in locks:
        assert await _acquire(lock, taken)
    assert [await _elsewhere(_lock(store, kind, name)) for name in "abc"] == [True] * 3


async def test_releasing_a_lock_never_taken_is_harmless(store: StorePort) -> None:
    lock = _lock(store, "lease")
    await anyio.to_thread.run_sync(lock.release)
    assert not lock.held


async def test_hold_liveness_holds_the_owner_s_lock_while_the_block_runs(
    store: StorePort, taken: list[ProcessLock]
) -> None:
    async with store.hold_liveness("process-a"):
        assert await _elsewhere(store.liveness_lock("process-a"))
        assert not await _acquire(store.liveness_lock("process-a"), taken)
        assert not await _elsewhere(store.liveness_lock("process-b"))
    assert not await _elsewhere(store.liveness_lock("process-a"))
    assert await _acquire(store.liveness_lock("process-a"), taken)
