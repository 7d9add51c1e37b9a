"""A PostgreSQL server that restarts is not a dead worker: the worker rides it out.

Every session ends at once (the worker's reads, its writer, its lock connections),
as they would for a process that died; the worker's background reads are tried again
until the server answers, its pooled connections replaced, and it goes on leading
and firing: the slots after the restart run, each once.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import anyio
import pytest

import automations as am

from ..pg import binaries, started_cluster

pytestmark = pytest.mark.anyio

OPEN = {"project": "restart", "directory": "/restart", "min_interval": timedelta(seconds=1)}


async def noop(ctx: am.RunContext) -> None:
    return None


async def test_a_worker_rides_out_a_server_restart_and_fires_the_slots_after_it() -> None:
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip("needs PostgreSQL's server to restart it (apt-get install postgresql)")
    with started_cluster(bin_dir) as cluster:
        start = datetime.fromtimestamp(math.ceil(time.time()) + 2, UTC)
        every = am.Interval(every=timedelta(seconds=1), start=start)
        new = am.NewAutomation(title="tick", prompt="tick", timezone="UTC", schedule=every)
        async with am.open_runtime(cluster.dsn, executors={"default": noop}, **OPEN) as rt:  # type: ignore[arg-type]
            automation = await rt.create(new)
            await _ran_after(rt, automation.id, start)
            await anyio.to_thread.run_sync(cluster.restart)
            back = datetime.now(UTC)
            await _ran_after(rt, automation.id, back + timedelta(seconds=1))
            runs = (await rt.runs(automation.id, limit=500)).items
        slots = Counter(r.triggered_at for r in runs)
        assert max(slots.values()) == 1  # none twice


async def _ran_after(rt: am.Runtime, automation_id: str, when: datetime) -> None:
    """Wait until a run of a slot at or after `when` succeeded (the test's own reads
    fail while the server is down: they are made again)."""
    with anyio.fail_after(30):
        while True:
            try:
                runs = (await rt.runs(automation_id, limit=5)).items
            except am.StorageError:
                runs = []
            if any(r.triggered_at >= when and r.state is am.RunState.SUCCEEDED for r in runs):
                return
            await anyio.sleep(0.1)  # polls another process's state, with a deadline
