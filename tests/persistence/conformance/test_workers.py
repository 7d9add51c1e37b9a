"""The workers' heartbeat rows: what a worker says of itself, until it expires or departs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automations.model import Scope, Worker
from automations.persistence import Depart, Heartbeat, StorePort

from ..helpers import NOW, OTHER, SCOPE

pytestmark = pytest.mark.anyio

EXPIRY = timedelta(seconds=5)


def worker(
    id: str, *, beat_after: timedelta = timedelta(0), running: int = 0, **fields: object
) -> Worker:
    beat = NOW + beat_after
    values: dict[str, object] = {
        "id": id,
        "host": "host-a",
        "pid": 4242,
        "started_at": NOW,
        "heartbeat_at": beat,
        "expires_at": beat + EXPIRY,
        "capacity": 10,
        "running": running,
        "scopes": (SCOPE,),
    }
    values.update(fields)
    return Worker(**values)  # type: ignore[arg-type]


async def test_a_heartbeat_is_listed_as_it_was_written_until_it_expires(
    store: StorePort,
) -> None:
    odd = Scope("projet é\x00?", "/dépôt/ü")
    one = worker("w1", scopes=(SCOPE, odd), capacity=None)
    await store.write(Heartbeat(one))
    assert await store.reader.workers(NOW) == [one]
    assert await store.reader.workers(NOW + EXPIRY) == [one]  # expires after, not at
    assert await store.reader.workers(NOW + EXPIRY + timedelta(milliseconds=1)) == []


async def test_a_new_heartbeat_replaces_the_row_and_keeps_it_alive(store: StorePort) -> None:
    await store.write(Heartbeat(worker("w1")))
    later = worker("w1", beat_after=timedelta(seconds=4), running=3, scopes=(OTHER,))
    await store.write(Heartbeat(later))
    assert await store.reader.workers(NOW + timedelta(seconds=8)) == [later]


async def test_workers_are_listed_by_id_and_every_scope_sees_them(store: StorePort) -> None:
    for id in ("w3", "w1", "w2"):
        await store.write(Heartbeat(worker(id, scopes=())))
    assert [w.id for w in await store.reader.workers(NOW)] == ["w1", "w2", "w3"]


async def test_a_heartbeat_forgets_the_rows_of_workers_expired_for_an_hour(
    store: StorePort,
) -> None:
    await store.write(Heartbeat(worker("gone")))
    await store.write(Heartbeat(worker("alive")))
    soon = worker("soon", beat_after=EXPIRY + timedelta(seconds=1))
    await store.write(Heartbeat(soon))
    # Expired by the clock of the worker beating, not yet by that of a host behind it.
    assert [w.id for w in await store.reader.workers(NOW)] == ["alive", "gone", "soon"]
    late = worker("late", beat_after=EXPIRY + timedelta(hours=1, seconds=1))
    await store.write(Heartbeat(late))
    assert [w.id for w in await store.reader.workers(NOW)] == ["late", "soon"]


async def test_a_departed_worker_is_gone_at_once(store: StorePort) -> None:
    await store.write(Heartbeat(worker("w1")))
    await store.write(Heartbeat(worker("w2")))
    await store.write(Depart("w1"))
    await store.write(Depart("never-there"))
    assert [w.id for w in await store.reader.workers(NOW)] == ["w2"]
