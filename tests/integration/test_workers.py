"""Seeing the fleet: each worker process records itself, and every process lists the
live ones (`Runtime.workers`), on each store."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest

from automations.actors import _presence
from automations.model import Worker
from automations.persistence import Heartbeat, open_store

from .conftest import Gate, OpenRuntime, new
from .fleets import until_workers

pytestmark = pytest.mark.anyio


async def test_a_worker_lists_itself_with_its_capacity_load_and_the_scope_it_leads(
    runtime_factory: OpenRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_presence, "HEARTBEAT_SECONDS", 0.05)
    gate = Gate()
    async with (
        runtime_factory({"default": gate}, max_scheduled_runs=7) as worker,
        runtime_factory(role="client") as client,
    ):
        found = await until_workers(
            client, lambda ws: len(ws) == 1 and ws[0].scopes == (worker.scope,), worker
        )
        me = found[0]
        assert (me.id, me.host, me.pid) == (
            worker._services.owner,
            socket.gethostname(),
            os.getpid(),
        )
        assert (me.capacity, me.running) == (7, 0)
        assert me.started_at <= me.heartbeat_at < me.expires_at
        run = await worker.run_now((await worker.create(new())).id)
        await gate.started.wait()
        busy = await until_workers(client, lambda ws: ws[0].running == 1, worker)
        assert busy[0].id == me.id and busy[0].started_at == me.started_at
        gate.release.set()
        await worker.wait(run.id, timeout=10)
    async with runtime_factory(role="client") as client:
        assert await client.workers() == []  # the worker deleted its row as it closed


async def test_a_leader_and_a_standby_are_each_listed_as_they_are(
    runtime_factory: OpenRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_presence, "HEARTBEAT_SECONDS", 0.05)
    async with runtime_factory() as leader, runtime_factory(max_scheduled_runs=None) as standby:
        found = await until_workers(
            leader, lambda ws: len(ws) == 2 and any(w.scopes for w in ws), leader, standby
        )
        by_id = {w.id: w for w in found}
        assert by_id[leader._services.owner].scopes == (leader.scope,)
        assert by_id[standby._services.owner].scopes == ()
        assert by_id[standby._services.owner].capacity is None


async def test_a_worker_whose_process_is_gone_is_not_listed(
    location: str, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory(role="client") as client:
        mine = await client.workers()
        assert mine == []
        now = _presence.wall_now()
        ghost = Worker(
            id="ghost-1",
            host="elsewhere",
            pid=1,
            started_at=now,
            heartbeat_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        async with open_store(location) as store:
            await store.write(Heartbeat(ghost))  # a fresh row, but nobody holds its lock
            assert [w.id for w in await store.reader.workers(now)] == ["ghost-1"]
            assert await client.workers() == []
            async with store.hold_liveness("ghost-1"):  # now its process lives
                assert await client.workers() == [ghost]
