"""SIGKILL of a fleet worker: the other fleet worker takes its scopes over within a
heartbeat (that they then fire, each slot once, is `tests/integration/test_fleet.py`)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

import automations as am
from automations.actors import _presence
from automations.model import Scope, Worker
from automations.persistence import RUN_UPDATED, StorePort

from ..integration.fleets import until_workers
from .test_failover import _read_line

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
SCOPES = [Scope("fleet", f"/fleet/{i}") for i in range(4)]
OPTIONS: dict[str, Any] = {"project": "fleet", "min_interval": timedelta(seconds=1)}


async def _noop(ctx: am.RunContext) -> None:
    return None


def _client(location: str, scope: Scope) -> AbstractAsyncContextManager[am.Runtime]:
    return am.open_runtime(location, role="client", directory=scope.directory, **OPTIONS)


def _leads(workers: Sequence[Worker], owner: str) -> set[Scope]:
    return {scope for w in workers if w.id == owner for scope in w.scopes}


async def _create_ticking(location: str) -> None:
    for scope in SCOPES:
        async with _client(location, scope) as rt:
            schedule = am.Interval(every=timedelta(seconds=1))
            new = am.NewAutomation(title="tick", prompt="p", timezone="UTC", schedule=schedule)
            await rt.create(new)


@asynccontextmanager
async def _sharing(
    location: str,
) -> AsyncIterator[tuple[anyio.abc.Process, am.Runtime]]:
    """A fleet worker in another process and one here, once they share `SCOPES`:
    (the other process, this runtime)."""
    await _create_ticking(location)
    command = [sys.executable, "-m", "tests.crash.fleet_worker", location]
    async with (
        await anyio.open_process(command, cwd=ROOT) as other,
        am.open_runtime(
            location, executors={"default": _noop}, directory="/fleet/0", scopes="all", **OPTIONS
        ) as fleet,
    ):
        try:
            owner = (await _read_line(other)).strip()
            me = fleet._services.owner
            await until_workers(fleet, lambda ws: bool(_leads(ws, owner) and _leads(ws, me)), fleet)
            yield other, fleet
        finally:
            if other.returncode is None:
                other.kill()
            await other.wait()


async def test_killing_a_fleet_worker_moves_its_scopes_to_the_other_at_once(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_presence, "HEARTBEAT_SECONDS", 0.1)
    async with _sharing(location) as (other, fleet):
        me = fleet._services.owner
        killed_at = time.monotonic()
        os.kill(other.pid, signal.SIGKILL)
        await until_workers(
            fleet, lambda ws: [w.id for w in ws] == [me] and _leads(ws, me) == set(SCOPES), fleet
        )
        moved = time.monotonic() - killed_at
        print(f"the killed worker's scopes moved in {moved:.3f} s")
        assert moved < 3  # within a heartbeat and a lease poll; a bound, not a benchmark


async def test_a_fleet_worker_plans_again_when_a_peer_dies_not_at_its_next_heartbeat(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its heartbeat made hourly once the scopes are shared, the survivor still takes
    the killed worker's scopes: it watches its peers' liveness locks."""
    monkeypatch.setattr(_presence, "HEARTBEAT_SECONDS", 0.1)
    async with _sharing(location) as (other, fleet):
        me = fleet._services.owner
        monkeypatch.setattr(_presence, "HEARTBEAT_SECONDS", 3600.0)
        presence = fleet._supervisor.presence
        assert presence is not None
        await presence.next_beat()  # the last quick beat: the next is an hour away
        os.kill(other.pid, signal.SIGKILL)
        found = await until_workers(fleet, lambda ws: _leads(ws, me) == set(SCOPES), fleet)
        assert [w.id for w in found] == [me]


HOLDING = [Scope("fleet", f"/holding/{i}") for i in range(6)]


async def _running_in_each(location: str, owner: str) -> None:
    """Wait until `owner` executes a run in each of `HOLDING` (read after each of
    the store's commits the follower of a client sees)."""
    async with _client(location, HOLDING[0]) as rt:
        store, follower = rt._store, rt._supervisor.follower
        with anyio.fail_after(20):
            while True:
                generation = follower.generation
                owners = await store.reader.owners_by_scope()
                if all(owner in owners.get(scope, []) for scope in HOLDING):
                    return
                await follower.wait_past(generation)


async def test_a_fleet_worker_taking_a_dead_one_s_scopes_reconciles_each_before_firing(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its cells open side by side and reconcile the same dead process at once; each
    must end that process's run in its scope before its first fire there."""
    monkeypatch.setattr(_presence, "HEARTBEAT_SECONDS", 0.1)
    for scope in HOLDING:
        async with _client(location, scope) as rt:
            schedule = am.Interval(every=timedelta(seconds=1))
            await rt.create(
                am.NewAutomation(
                    title="hold", prompt="p", timezone="UTC", schedule=schedule, executor="hold"
                )
            )
    command = [sys.executable, "-m", "tests.crash.fleet_worker", location]
    async with await anyio.open_process(command, cwd=ROOT) as other:
        try:
            owner = (await _read_line(other)).strip()
            await _running_in_each(location, owner)
            os.kill(other.pid, signal.SIGKILL)
            await other.wait()
        finally:
            if other.returncode is None:
                other.kill()
                await other.wait()
    async with am.open_runtime(
        location,
        executors={"default": _noop, "hold": _noop},
        directory=HOLDING[0].directory,
        scopes="all",
        **OPTIONS,
    ) as fleet:
        store = fleet._store
        killed = await store.reader.last_seq()
        me = fleet._services.owner
        await until_workers(fleet, lambda ws: _leads(ws, me) == set(HOLDING), fleet)
        presence = fleet._supervisor.presence
        assert presence is not None
        with anyio.fail_after(20):  # each cell's first fire after taking its lease
            while not all([await _runs_after(store, scope, killed) for scope in HOLDING]):
                await presence.next_beat()
        for scope in HOLDING:
            entries = await store.reader.journal(scope, 0, 10_000)
            runs = [e for e in entries if e.kind == RUN_UPDATED]
            old = {e.entity_id for e in runs if e.seq <= killed}
            # Each old run's first record after the kill is its reconciling (ended, or
            # adopted to start at its slot); the scope's first new run comes after all.
            reconciled: dict[str, int] = {}
            for e in runs:
                if e.entity_id in old and e.seq > killed:
                    reconciled.setdefault(e.entity_id, e.seq)
            first_new = min(e.seq for e in runs if e.entity_id not in old)
            assert reconciled, f"{scope.directory}: the dead worker's run was not reconciled"
            assert max(reconciled.values()) < first_new, f"{scope.directory}: fired first"
        assert owner not in {
            o for os_ in (await store.reader.owners_by_scope()).values() for o in os_
        }


async def _runs_after(store: StorePort, scope: Scope, seq: int) -> list[str]:
    """The runs of `scope` the journal records after `seq` that it did not before."""
    entries = await store.reader.journal(scope, 0, 10_000)
    runs = [e for e in entries if e.kind == RUN_UPDATED]
    old = {e.entity_id for e in runs if e.seq <= seq}
    return [e.entity_id for e in runs if e.entity_id not in old]
