"""Three workers on three hosts, one PostgreSQL server: a killed holder and a cut-off one.

Each worker lives in a network namespace of its own and reaches the server over TCP,
across a veth link (`tests/hosts.py`). Fifty automations fire every second for 30 s.
The lease holder is SIGKILLed: its connections close, and a standby holds the lease
within a second and fires. Then the new holder's link is cut, as a pulled cable: no
connection closes, so the third worker takes the lease when it goes stale, and the
epoch fences the cut-off one, which fires nothing more and steps down once its link
returns. The link is cut while the runs of a slot go on (each lasts 0.4 s), so until
they end the new holder finds their writer keys held: its slots are recorded skipped,
one by one as they come. Every slot has exactly one run (the catch-up window covers
the gap).
"""

from __future__ import annotations

import math
import signal
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

import automations as am
from automations.model import Scope
from automations.persistence import StorePort, lease_name, open_store

from ..hosts import Host, hosts
from ..pg import binaries, started_cluster
from ..stores import rows
from .test_two_workers import all_runs, ticking

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
SCOPE = Scope("hosts", "/hosts")
OPEN: dict[str, Any] = {
    "project": "hosts",
    "directory": "/hosts",
    "min_interval": timedelta(seconds=1),
}
AUTOMATIONS = 50
SECONDS = 30


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the workers are separate processes; one backend here is enough


async def test_a_killed_holder_and_a_cut_off_one_are_replaced_and_every_slot_fires_once(
    tmp_path: Path,
) -> None:
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip(
            "several hosts need the PostgreSQL server binaries (apt-get install postgresql)"
        )
    with hosts(3) as three:
        networks = tuple(f"{host.gateway.rsplit('.', 1)[0]}.0/24" for host in three)
        listen = tuple(host.gateway for host in three)
        with started_cluster(bin_dir, listen=listen, trusted=networks) as cluster:
            await _play(cluster.dsn, three, tmp_path)


async def _play(dsn: str, three: list[Host], logs: Path) -> None:
    start = datetime.fromtimestamp(math.ceil(time.time()) + 8, UTC)
    async with am.open_runtime(dsn, **OPEN) as setup:
        created = await setup.create_many(ticking(AUTOMATIONS, start))
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(dsn, read_only=True))
        workers = {}
        for i, host in enumerate(three):
            worker = await stack.enter_async_context(_worker(dsn, host, logs / f"w{i}.log"))
            workers[worker.pid] = (worker, host, logs / f"w{i}.log")

        first = await _holder(store, lambda pid: pid in workers)
        await _sleep_until(start + timedelta(seconds=8))
        killed_at = time.monotonic()
        workers[first][0].send_signal(signal.SIGKILL)
        second = await _holder(store, lambda pid: pid not in (first,))
        took_over = time.monotonic() - killed_at
        assert took_over < 1.0, f"a standby took {took_over:.2f} s to hold the lease"

        await _sleep_until(start + timedelta(seconds=14.2))  # the slot's runs go on
        cut_off = workers[second][1]
        cut_off.cut()
        third = await _holder(store, lambda pid: pid not in (first, second), within=25)
        head_at_takeover = await store.reader.last_seq()
        await _sleep_until(start + timedelta(seconds=24))
        cut_off.restore()

        await _sleep_until(start + timedelta(seconds=SECONDS + 3))
        assert await _holder(store, lambda pid: True) == third  # the cut-off one stepped down
        owner_of_second = f"-{second}-"
        late = await rows(
            store,
            "SELECT count(*) FROM journal WHERE seq > ? AND owner LIKE ?",
            (head_at_takeover, f"%{owner_of_second}%"),
        )
        assert late == [(0,)], "the cut-off holder wrote for a run after it was fenced"
        for pid, (worker, _, _) in workers.items():
            if pid != first:
                worker.terminate()
                await worker.wait()
        stepped_down = workers[second][2].read_text()
        assert "stepped down" in stepped_down, stepped_down[-2000:]

    checked = [start + timedelta(seconds=k) for k in range(SECONDS)]
    after_kill = start + timedelta(seconds=10)  # the first slot a second after the kill
    async with am.open_runtime(dsn, **OPEN) as rt:
        for automation in created:
            runs = await all_runs(rt, automation.id)
            slots = Counter(r.triggered_at for r in runs if r.trigger is am.Trigger.SCHEDULE)
            assert max(slots.values()) == 1, automation.title  # none twice
            missing = [
                f"+{(slot - start).total_seconds():g}" for slot in checked if not slots[slot]
            ]
            assert not missing, (automation.title, missing, _timeline(start, runs))  # each once
            fired = next(r for r in runs if r.triggered_at == after_kill)
            assert fired.started_at is not None
            assert fired.started_at - after_kill < timedelta(seconds=1), "the standby fired late"


@asynccontextmanager
async def _worker(dsn: str, host: Host, log: Path) -> AsyncIterator[anyio.abc.Process]:
    """A worker in `host`'s namespace, reaching the server across its link."""
    parts = urllib.parse.urlsplit(dsn)
    remote = parts._replace(netloc=f"postgres@{host.gateway}:{parts.port}").geturl()
    command = host.command([sys.executable, "-m", "tests.crash.host_worker", remote])
    with log.open("wb") as errors:
        process = await anyio.open_process(command, cwd=ROOT, stderr=errors)
    try:
        assert process.stdout is not None
        with anyio.fail_after(30):
            line = await process.stdout.receive()
        assert b"serving" in line, line
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _holder(store: StorePort, wanted: Any, within: float = 10) -> int:
    """The pid of the worker holding the lease, once `wanted(pid)` says it is one
    looked for (owners are `host-pid-nonce`)."""
    with anyio.fail_after(within):
        while True:
            row = await store.reader.lease(lease_name(SCOPE))
            if row is not None:
                pid = int(row.holder.rsplit("-", 2)[1])
                if wanted(pid):
                    return pid
            await anyio.sleep(0.05)  # polls another process's state, with a deadline


async def _sleep_until(when: datetime) -> None:
    await anyio.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()))


def _timeline(start: datetime, runs: list[am.Run]) -> list[str]:
    """The runs as `+seconds state`, for a failure's message: which slots went where."""
    return sorted(
        f"+{(r.triggered_at - start).total_seconds():g} {r.trigger.value} {r.state.value}"
        f"{'' if r.stop_reason is None else '/' + r.stop_reason.value}"
        for r in runs
    )
