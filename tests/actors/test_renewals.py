"""Taking a lease's lock back must never outlive the lease's term."""

from __future__ import annotations

import threading

import anyio
import pytest

from automations.actors._renewals import LeaseRenewals
from automations.model import Scope
from automations.persistence import lease_name

pytestmark = pytest.mark.anyio


class _Lock:
    """A `ProcessLock` whose taking waits, in its thread, until `gate` opens."""

    def __init__(self) -> None:
        self.taken = False
        self.gate = threading.Event()
        self.asked = threading.Event()

    @property
    def held(self) -> bool:
        return self.taken

    def try_acquire(self) -> bool:
        self.asked.set()
        self.gate.wait(10)
        self.taken = True
        return True

    def held_elsewhere(self) -> bool:
        return False

    def release(self, *, remove: bool = False) -> None:
        self.taken = False


async def test_a_lock_taken_back_as_its_term_ends_is_let_go_again() -> None:
    renewals = LeaseRenewals(store=None)  # type: ignore[arg-type]  # no renewal here
    lock = _Lock()
    async with anyio.create_task_group() as tg:
        with renewals.holding(lease_name(Scope("p", "/ending")), 1, lock):
            tg.start_soon(renewals._take_locks_back)
            await anyio.to_thread.run_sync(lock.asked.wait)
        # The term ended (its letting go found nothing held); only now is it taken.
        lock.gate.set()
    assert lock.asked.is_set() and not lock.held


async def test_a_term_that_ended_during_the_sweep_is_not_taken_back() -> None:
    renewals = LeaseRenewals(store=None)  # type: ignore[arg-type]
    first, second = _Lock(), _Lock()
    second.gate.set()
    ended = anyio.Event()

    async def second_term() -> None:
        with renewals.holding(lease_name(Scope("p", "/second")), 1, second):
            await ended.wait()

    with renewals.holding(lease_name(Scope("p", "/first")), 1, first):
        async with anyio.create_task_group() as tg:
            tg.start_soon(second_term)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(renewals._take_locks_back)
            await anyio.to_thread.run_sync(first.asked.wait)  # the sweep is at the first
            ended.set()
            await anyio.wait_all_tasks_blocked()
            first.gate.set()
    assert not second.asked.is_set() and not second.held
