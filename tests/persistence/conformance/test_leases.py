"""The scheduler lease of a scope: an epoch that grows on every acquisition, and the
fencing of the writes made under it.

A holder that froze past its take-over must not fire anything twice: each write it
makes under the lease carries the epoch it holds, and the store refuses an old one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from automations.model import LeaseLost, Scope
from automations.persistence import (
    HANDED_OVER,
    AcquireLease,
    CreateRun,
    ReconcileRuns,
    ReleaseLease,
    RenewLeases,
    SaveAutomation,
    SaveRun,
    StorePort,
    TakeStaleLease,
    lease_name,
)

from ..helpers import NOW, OTHER, SCOPE, automation
from .builders import SIBLING, create_automation, create_run, renamed, scheduled, started

pytestmark = pytest.mark.anyio


async def _acquire(store: StorePort, holder: str, scope: Scope = SCOPE) -> int:
    return await store.write(AcquireLease(lease_name(scope), holder, NOW))


async def test_each_acquisition_grows_the_epoch(store: StorePort) -> None:
    epochs = [await _acquire(store, holder) for holder in ("p1", "p2", "p1")]
    assert epochs == sorted(epochs) and len(set(epochs)) == 3
    lease = await store.reader.lease(lease_name(SCOPE))
    assert lease is not None and (lease.epoch, lease.holder) == (epochs[-1], "p1")


async def test_a_write_under_the_current_epoch_commits(store: StorePort) -> None:
    epoch = await _acquire(store, "me")
    a = automation()
    await store.write(SaveAutomation(SCOPE, a, None, epoch=epoch))
    first = scheduled(a.id, NOW)
    await store.write(CreateRun(SCOPE, (first,), (NOW,), epoch=epoch))
    await store.write(SaveRun(SCOPE, started(first), 1, NOW, epoch=epoch))
    assert await store.reader.run_by_id(SCOPE, first.id) == started(first)


async def test_an_automation_write_with_an_old_epoch_is_lease_lost(store: StorePort) -> None:
    a = await create_automation(store)
    old = await _acquire(store, "me")
    await _acquire(store, "successor")
    with pytest.raises(LeaseLost):
        await store.write(SaveAutomation(SCOPE, renamed(a, "late"), 1, epoch=old))
    with pytest.raises(LeaseLost):
        await store.write(SaveAutomation(SCOPE, automation("new"), None, epoch=old))
    assert await store.reader.automations(SCOPE) == [a]


async def test_a_new_run_with_an_old_epoch_is_lease_lost(store: StorePort) -> None:
    a = await create_automation(store)
    old = await _acquire(store, "me")
    await _acquire(store, "successor")
    first = scheduled(a.id, NOW)
    with pytest.raises(LeaseLost):
        await store.write(CreateRun(SCOPE, (first, started(first)), (NOW, NOW), epoch=old))
    with pytest.raises(LeaseLost):
        await store.write(SaveRun(SCOPE, first, None, NOW, epoch=old))
    assert (await store.reader.runs(SCOPE, a.id, limit=10, cursor=None)).items == []


async def test_a_run_transition_with_an_old_epoch_is_lease_lost(store: StorePort) -> None:
    a = await create_automation(store)
    first = scheduled(a.id, NOW)
    await create_run(store, SCOPE, first)
    old = await _acquire(store, "me")
    await _acquire(store, "successor")
    with pytest.raises(LeaseLost):
        await store.write(SaveRun(SCOPE, started(first), 1, NOW, epoch=old))
    assert await store.reader.run_by_id(SCOPE, first.id) == first


async def test_a_fenced_write_without_any_lease_is_lease_lost(store: StorePort) -> None:
    with pytest.raises(LeaseLost):
        await store.write(SaveAutomation(SCOPE, automation(), None, epoch=1))
    assert await store.reader.automations(SCOPE) == []


async def test_renewing_with_a_stale_epoch_names_the_lease_lost(store: StorePort) -> None:
    old = await _acquire(store, "me")
    assert await store.write(RenewLeases(((lease_name(SCOPE), old),), renewed_ms=1_000)) == ()
    lease = await store.reader.lease(lease_name(SCOPE))
    assert lease is not None and lease.renewed_ms == 1_000
    current = await _acquire(store, "successor")
    assert await store.write(RenewLeases(((lease_name(SCOPE), old),), renewed_ms=2_000)) == (
        (lease_name(SCOPE), old),
    )
    lease = await store.reader.lease(lease_name(SCOPE))
    assert lease is not None and (lease.epoch, lease.holder) == (current, "successor")
    assert lease.renewed_ms != 2_000


async def test_one_write_renews_every_lease_held_and_names_only_those_lost(
    store: StorePort,
) -> None:
    """A fleet worker renews all its scopes' leases at once; one taken over does not
    hold up the renewal of the others."""
    mine = await _acquire(store, "me")
    sibling = await store.write(AcquireLease(lease_name(SIBLING), "me", NOW))
    other = await store.write(AcquireLease(lease_name(OTHER), "me", NOW))
    await store.write(TakeStaleLease(lease_name(SIBLING), "standby", NOW, sibling, renewed_ms=5))
    never = lease_name(Scope("never", "/led"))
    held = (
        (lease_name(SCOPE), mine),
        (lease_name(SIBLING), sibling),
        (lease_name(OTHER), other),
        (never, 1),
    )
    lost = await store.write(RenewLeases(held, renewed_ms=9_000))
    assert lost == ((lease_name(SIBLING), sibling), (never, 1))
    for scope, holder, renewed in (
        (SCOPE, "me", 9_000),
        (OTHER, "me", 9_000),
        (SIBLING, "standby", 5),
    ):
        lease = await store.reader.lease(lease_name(scope))
        assert lease is not None and (lease.holder, lease.renewed_ms) == (holder, renewed)


async def test_a_stale_lease_is_taken_over_once(store: StorePort) -> None:
    old = await _acquire(store, "frozen")
    later = NOW + timedelta(minutes=1)
    taken = await store.write(
        TakeStaleLease(lease_name(SCOPE), "standby-1", later, old, renewed_ms=5)
    )
    assert taken is not None and taken > old
    again = await store.write(
        TakeStaleLease(lease_name(SCOPE), "standby-2", later, old, renewed_ms=6)
    )
    assert again is None  # another standby took it first
    lease = await store.reader.lease(lease_name(SCOPE))
    assert lease is not None and (lease.epoch, lease.holder) == (taken, "standby-1")
    # The frozen holder wakes up: it is fenced out.
    assert await store.write(RenewLeases(((lease_name(SCOPE), old),), renewed_ms=7)) == (
        (lease_name(SCOPE), old),
    )
    with pytest.raises(LeaseLost):
        await store.write(SaveAutomation(SCOPE, automation(), None, epoch=old))


@pytest.mark.parametrize("elsewhere", [OTHER, SIBLING], ids=["other-project", "other-directory"])
async def test_each_scope_has_a_lease_of_its_own(store: StorePort, elsewhere: Scope) -> None:
    mine = [await _acquire(store, "p1") for _ in range(3)][-1]
    assert await store.reader.lease(lease_name(elsewhere)) is None
    theirs = await _acquire(store, "p2", elsewhere)
    lease = await store.reader.lease(lease_name(SCOPE))
    assert lease is not None and (lease.epoch, lease.holder) == (mine, "p1")
    a = automation(project=elsewhere.project)
    await store.write(SaveAutomation(elsewhere, a, None, epoch=theirs))
    await store.write(SaveAutomation(SCOPE, automation(), None, epoch=mine))
    with pytest.raises(LeaseLost):  # an epoch fences only its own scope's writes
        await store.write(SaveAutomation(elsewhere, automation(), None, epoch=mine))
    assert [x.id for x in await store.reader.automations(elsewhere)] == [a.id]


async def test_every_scopes_lease_is_read_at_once_by_its_name(store: StorePort) -> None:
    assert await store.reader.leases() == {}
    first = await _acquire(store, "p1")
    other = await _acquire(store, "p2", OTHER)
    again = await _acquire(store, "p3")
    leases = await store.reader.leases()
    assert set(leases) == {lease_name(SCOPE), lease_name(OTHER)}
    assert (leases[lease_name(SCOPE)].holder, leases[lease_name(SCOPE)].epoch) == ("p3", again)
    assert (leases[lease_name(OTHER)].holder, leases[lease_name(OTHER)].epoch) == ("p2", other)
    assert again > first
    assert leases[lease_name(SCOPE)] == await store.reader.lease(lease_name(SCOPE))


async def test_a_holder_lets_its_lease_go_only_at_its_own_epoch(store: StorePort) -> None:
    old = await _acquire(store, "p1")
    current = await _acquire(store, "p2")
    assert await store.write(ReleaseLease(lease_name(SCOPE), old)) is False  # p2 holds it now
    lease = await store.reader.lease(lease_name(SCOPE))
    assert lease is not None and lease.holder == "p2"
    assert await store.write(ReleaseLease(lease_name(SCOPE), current)) is True
    lease = await store.reader.lease(lease_name(SCOPE))
    assert lease is not None and lease.holder == ""
    assert lease.epoch > current  # nothing written under the released epoch lands after
    with pytest.raises(LeaseLost):
        await store.write(SaveAutomation(SCOPE, automation(), None, epoch=current))
    assert await _acquire(store, "p3") > lease.epoch  # the next holder's epoch fences on


async def test_a_released_lease_hands_its_holders_unstarted_runs_to_the_next(
    store: StorePort,
) -> None:
    """The runs a holder hands over with its lease are nobody's (`HANDED_OVER`): the
    next holder reconciles them as a dead process's and starts each at its slot."""
    a = await create_automation(store)
    ahead, started_here, someone_elses = (
        scheduled(a.id, NOW + timedelta(seconds=s)) for s in range(1, 4)
    )
    for run in (ahead, started_here):
        await create_run(store, SCOPE, run, owner="p1")
    await store.write(SaveRun(SCOPE, started(started_here), 1, NOW, owner="p1"))
    await create_run(store, SCOPE, someone_elses, owner="p2")
    epoch = await _acquire(store, "p1")
    runs = (ahead.id, started_here.id, someone_elses.id)
    assert await store.write(ReleaseLease(lease_name(SCOPE), epoch, "p1", runs)) is True
    # Only the releaser's own, still scheduled.
    assert set(await store.reader.owners(SCOPE)) == {HANDED_OVER, "p1", "p2"}
    late = scheduled(a.id, NOW + timedelta(seconds=9))  # a retry held after the release
    await create_run(store, SCOPE, late, owner="p1")
    assert await store.write(ReleaseLease(lease_name(SCOPE), epoch, "p1", (late.id,))) is False
    assert set(await store.reader.owners(SCOPE)) == {HANDED_OVER, "p1", "p2"}
    taker = await _acquire(store, "p3")
    at = NOW + timedelta(seconds=1)
    result = await store.write(ReconcileRuns(HANDED_OVER, SCOPE, "p3", at, epoch=taker))
    assert [adopted.run.id for adopted in result.adopted] == [ahead.id]
    assert result.next_slot == late.triggered_at  # looked at again when it is due
    assert set(await store.reader.owners(SCOPE)) == {HANDED_OVER, "p1", "p2", "p3"}


async def test_a_lease_taken_over_in_a_batch_fences_the_writes_after_it(
    store: StorePort,
) -> None:
    """A writer may read an epoch once per batch; a lease write in the batch forgets it."""
    a = await create_automation(store)
    runs = [scheduled(a.id, NOW + timedelta(seconds=s)) for s in range(3)]
    for run in runs:
        await create_run(store, SCOPE, run)
    old = await _acquire(store, "me")
    with store.together():
        before = store.submit(SaveRun(SCOPE, started(runs[0]), 1, NOW, epoch=old))
        taken = store.submit(AcquireLease(lease_name(SCOPE), "successor", NOW))
        after = store.submit(SaveRun(SCOPE, started(runs[1]), 1, NOW, epoch=old))
    await before.outcome()
    new = await taken.outcome()
    assert new > old
    with pytest.raises(LeaseLost):
        await after.outcome()
    await store.write(SaveRun(SCOPE, started(runs[2]), 1, NOW, epoch=new))
    states = [await store.reader.run_by_id(SCOPE, run.id) for run in runs]
    assert states == [started(runs[0]), runs[1], started(runs[2])]
