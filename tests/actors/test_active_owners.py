"""A fleet worker's cells share one read of the active runs' owners."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from automations.actors import _active_owners
from automations.actors._active_owners import ActiveOwners
from automations.model import Scope

pytestmark = pytest.mark.anyio

A, B = Scope("p", "/a"), Scope("p", "/b")


class _Reader:
    def __init__(self) -> None:
        self.reads = 0
        self.owners: dict[Scope, list[str]] = {A: ["w1"], B: ["w1", "w2"]}

    async def owners_by_scope(self) -> dict[Scope, list[str]]:
        self.reads += 1
        await anyio.lowlevel.checkpoint()  # the others ask meanwhile
        return {scope: list(owners) for scope, owners in self.owners.items()}


class _Store:
    def __init__(self) -> None:
        self.reader = _Reader()


async def test_cells_asking_at_once_share_one_read() -> None:
    store = _Store()
    owners = ActiveOwners(store)  # type: ignore[arg-type]
    found: dict[Scope, list[str]] = {}

    async def ask(scope: Scope) -> None:
        found[scope] = await owners.of(scope)

    async with anyio.create_task_group() as tg:
        for scope in (A, B, Scope("p", "/quiet")):
            tg.start_soon(ask, scope)
    assert store.reader.reads == 1
    assert found == {A: ["w1"], B: ["w1", "w2"], Scope("p", "/quiet"): []}


async def test_a_read_older_than_its_freshness_is_made_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = _Store()
    owners = ActiveOwners(store)  # type: ignore[arg-type]
    assert await owners.of(A) == ["w1"]
    store.reader.owners[A] = ["w1", "w3"]  # a process started runs since
    assert await owners.of(A) == ["w1"]  # fresh: not read again
    monkeypatch.setattr(_active_owners, "FRESH_SECONDS", 0.0)
    assert await owners.of(A) == ["w1", "w3"]
    assert store.reader.reads == 2
