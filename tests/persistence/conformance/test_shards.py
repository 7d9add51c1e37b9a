"""Shards: each automation row keeps its scope's shard, and a holder of some shards
finds what is due in them, and their scopes, with one query each. A shard's lease
fences the writes of its scopes as a scope's own lease does: an epoch is given once in
the whole database, so it names one term of one lease."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automations.model import LeaseLost, Scope, to_ms
from automations.persistence import (
    AcquireLease,
    ReleaseLease,
    SaveAutomation,
    StorePort,
    TakeStaleLease,
    lease_name,
    shard_lease_name,
    shard_of,
)

from ..helpers import NOW, SCOPE, automation
from .builders import create_automation, renamed

pytestmark = pytest.mark.anyio

FAR = to_ms(NOW + timedelta(days=400))


def scopes_in_other_shards(count: int) -> list[Scope]:
    """`count` scopes, each in a shard of its own and none in `SCOPE`'s."""
    found: dict[int, Scope] = {shard_of(SCOPE): SCOPE}
    n = 0
    while len(found) <= count:
        scope = Scope(f"project-{n}", f"/repo/{n}")
        found.setdefault(shard_of(scope), scope)
        n += 1
    return [scope for shard, scope in found.items() if scope != SCOPE]


async def test_due_in_shards_names_only_theirs_soonest_first(store: StorePort) -> None:
    first, second, third = scopes_in_other_shards(3)
    hourly = automation(every=timedelta(hours=1))
    daily = await create_automation(store, first)
    await store.create_automation(second, hourly)
    await create_automation(store, third)
    held = [shard_of(first), shard_of(second)]

    due = await store.reader.due_in_shards(held, FAR, 10)

    assert hourly.next_fire_at is not None and daily.next_fire_at is not None
    assert hourly.next_fire_at < daily.next_fire_at
    assert due == [
        (second, hourly.id, to_ms(hourly.next_fire_at)),
        (first, daily.id, to_ms(daily.next_fire_at)),
    ]
    assert await store.reader.due_in_shards(held, FAR, 1) == due[:1]
    assert await store.reader.due_in_shards(held, to_ms(hourly.next_fire_at), 10) == due[:1]
    assert await store.reader.due_in_shards([], FAR, 10) == []


async def test_an_updated_or_paused_automation_stays_in_its_shard(store: StorePort) -> None:
    (scope,) = scopes_in_other_shards(1)
    created = await create_automation(store, scope)
    updated = renamed(created, "Renamed")
    await store.write(SaveAutomation(scope, updated, created.revision))
    due = await store.reader.due_in_shards([shard_of(scope)], FAR, 10)
    assert [(s, id) for s, id, _ in due] == [(scope, created.id)]


async def test_shard_scopes_are_the_scopes_with_automations_there(store: StorePort) -> None:
    first, second = scopes_in_other_shards(2)
    await create_automation(store, first)
    await create_automation(store, first)
    await create_automation(store, second)
    await create_automation(store)  # SCOPE, a shard not asked for
    reader = store.reader
    assert await reader.shard_scopes([shard_of(first)]) == [first]
    assert await reader.shard_scopes([shard_of(second), shard_of(first)]) == sorted(
        [first, second], key=lambda s: (s.project, s.directory)
    )
    assert await reader.shard_scopes([]) == []


async def test_every_lease_term_has_an_epoch_of_its_own(store: StorePort) -> None:
    (elsewhere,) = scopes_in_other_shards(1)
    names = [
        lease_name(SCOPE),
        shard_lease_name(shard_of(SCOPE)),
        shard_lease_name(shard_of(elsewhere)),
    ]
    epochs = [await store.write(AcquireLease(name, "p1", NOW)) for name in names]
    epochs.append(await store.write(AcquireLease(names[0], "p2", NOW)))
    taken = await store.write(TakeStaleLease(names[1], "p2", NOW, epochs[1], renewed_ms=1))
    assert taken is not None
    epochs.append(taken)
    assert epochs == sorted(set(epochs))


async def test_a_shard_lease_fences_the_writes_of_its_scopes(store: StorePort) -> None:
    (elsewhere,) = scopes_in_other_shards(1)
    shard = await store.write(AcquireLease(shard_lease_name(shard_of(SCOPE)), "p1", NOW))
    await store.write(SaveAutomation(SCOPE, automation("under the shard"), None, epoch=shard))
    with pytest.raises(LeaseLost):  # another shard's scope
        await store.write(SaveAutomation(elsewhere, automation(), None, epoch=shard))
    assert await store.write(ReleaseLease(shard_lease_name(shard_of(SCOPE)), shard)) is True
    with pytest.raises(LeaseLost):  # the term is over
        await store.write(SaveAutomation(SCOPE, automation("late"), None, epoch=shard))
    titles = [a.title for a in await store.reader.automations(SCOPE)]
    assert titles == ["under the shard"]


async def test_a_scope_lease_and_its_shards_each_fence_by_their_own_term(
    store: StorePort,
) -> None:
    """A one-scope worker's lease and a fleet's shard lease both cover the scope; a
    write passes under the current term of either, not under an old one of either."""
    own = await store.write(AcquireLease(lease_name(SCOPE), "one-scope", NOW))
    shard = await store.write(AcquireLease(shard_lease_name(shard_of(SCOPE)), "fleet", NOW))
    for epoch in (own, shard):
        await store.write(SaveAutomation(SCOPE, automation(), None, epoch=epoch))
    await store.write(AcquireLease(lease_name(SCOPE), "another", NOW))
    with pytest.raises(LeaseLost):
        await store.write(SaveAutomation(SCOPE, automation(), None, epoch=own))
    await store.write(SaveAutomation(SCOPE, automation(), None, epoch=shard))
    assert len(await store.reader.automations(SCOPE)) == 3
