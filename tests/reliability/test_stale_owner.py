"""A frozen lease holder: SIGSTOP past the take-over, then SIGCONT.

On both stores (`location`). The holder keeps its lock while frozen, so the standby
takes the lease through the row once the holder stops renewing it. When the old
holder wakes, its writes under the old epoch are refused, nothing fires twice, and it
steps down cleanly.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import anyio
import anyio.abc
import pytest

import automations as am
from automations.actors import STALE_SECONDS
from automations.persistence import lease_name, open_store

from ..crash.test_failover import ROOT
from ..crash.test_two_workers import ticking
from ..stores import rows

# One backend: the subject is two processes, and the freeze takes seconds of real time.
pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]

SCOPE = {"project": "crash", "directory": "/crash", "min_interval": timedelta(seconds=1)}
AUTOMATIONS = 10


async def _read_until(process: anyio.abc.Process, needle: str, seen: list[str]) -> None:
    assert process.stdout is not None
    with anyio.fail_after(STALE_SECONDS + 20):
        while needle not in "".join(seen):
            seen.append((await process.stdout.receive()).decode())


async def _fired_after(rt: am.Runtime, after: float, count: int) -> list[am.Run]:
    """Wait for `count` scheduled runs with slots after `after` to end."""
    ended: list[am.Run] = []
    with anyio.fail_after(STALE_SECONDS + 20):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is None or run.trigger is not am.Trigger.SCHEDULE:
                    continue
                if run.state.is_terminal and run.triggered_at.timestamp() > after:
                    ended.append(run)
                    if len(ended) >= count:
                        return ended
    raise AssertionError("the event stream ended")


async def test_a_frozen_holder_is_replaced_and_steps_down_when_it_wakes(location: str) -> None:
    db = location
    start = datetime.fromtimestamp(math.ceil(time.time()) + 2, UTC)
    async with am.open_runtime(db, **SCOPE) as setup:  # type: ignore[arg-type]
        await setup.create_many(ticking(AUTOMATIONS, start))
    output: list[str] = []
    command = [sys.executable, "-m", "tests.crash.frozen", db]
    async with await anyio.open_process(command, cwd=ROOT) as old:
        try:
            await _read_until(old, "holding the scheduler lease", output)
            async with am.open_runtime(db, **SCOPE) as standby:  # type: ignore[arg-type]
                lease = await standby._services.store.reader.lease(lease_name(standby.scope))
                assert lease is not None
                old_owner, old_epoch = lease.holder, lease.epoch
                await _fired_after(standby, start.timestamp() - 1, AUTOMATIONS)  # the old one fires
                os.kill(old.pid, signal.SIGSTOP)
                frozen_at = time.time()
                await _fired_after(standby, frozen_at + 1, AUTOMATIONS)  # only the standby can
                took_over = time.time() - frozen_at
                os.kill(old.pid, signal.SIGCONT)
                await _read_until(old, "stepped down", output)
                resumed_at = time.time()
                await _fired_after(standby, resumed_at + 1, 2 * AUTOMATIONS)  # it goes on
                lease = await standby._services.store.reader.lease(lease_name(standby.scope))
                assert lease is not None
                assert lease.holder == standby._services.owner and lease.epoch > old_epoch
            old.send_signal(signal.SIGINT)
            await _read_until(old, "closed cleanly", output)
            assert await old.wait() == 0
        finally:
            if old.returncode is None:
                os.kill(old.pid, signal.SIGCONT)
                old.kill()
                await old.wait()
    print(f"the standby fired {took_over:.1f} s after the freeze (stale after {STALE_SECONDS} s)")
    async with open_store(db) as store:
        slots = [
            (str(a), int(s))
            for a, s in await rows(
                store, "SELECT automation_id, slot FROM runs WHERE slot IS NOT NULL"
            )
        ]
        [after_freeze] = await rows(
            store,
            "SELECT count(*) FROM journal WHERE owner = ? AND at > ? AND revision = 1",
            (old_owner, int((frozen_at + 0.5) * 1000)),
        )
    counts = Counter(slots)
    assert max(counts.values()) == 1, "a slot fired twice"
    first, last = int(start.timestamp() * 1000), int((resumed_at + 1) * 1000)
    per_automation = Counter(a for a, s in slots if first <= s <= last)
    expected = (last - first) // 1000 + 1
    assert set(per_automation.values()) == {expected}, "a slot is missing"
    assert after_freeze is not None and after_freeze[0] == 0, "the old holder fired after it"
