"""Two workers on one database: every slot fires exactly once and none is missed."""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

import automations as am

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
AUTOMATIONS = 50
SECONDS = 12


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the workers are separate processes; one backend here is enough


async def test_two_workers_fire_every_slot_exactly_once(location: str) -> None:
    db = location
    start = datetime.fromtimestamp(math.ceil(time.time()) + 5, UTC)
    scope = {"project": "crash", "directory": "/crash", "min_interval": timedelta(seconds=1)}
    async with am.open_runtime(db, **scope) as setup:  # type: ignore[arg-type]
        created = await setup.create_many(ticking(AUTOMATIONS, start))
    serve_for = (start - datetime.now(UTC)).total_seconds() + SECONDS + 2
    command = [sys.executable, "-m", "tests.crash.serve", db, str(serve_for)]
    async with (
        await anyio.open_process(command, cwd=ROOT) as first,
        await anyio.open_process(command, cwd=ROOT) as second,
    ):
        with anyio.fail_after(serve_for + 30):
            assert await first.wait() == 0
            assert await second.wait() == 0
    checked = [start + timedelta(seconds=k) for k in range(SECONDS)]
    async with am.open_runtime(db, **scope) as rt:  # type: ignore[arg-type]
        for automation in created:
            runs = await all_runs(rt, automation.id)
            assert not [r for r in runs if r.stop_reason is am.StopReason.MISSED_SCHEDULE]
            slots = Counter(r.triggered_at for r in runs if r.trigger is am.Trigger.SCHEDULE)
            assert all(slots[slot] == 1 for slot in checked), automation.title
            assert max(slots.values()) == 1


def ticking(count: int, start: datetime) -> list[am.NewAutomation]:
    """`count` automations firing every second from `start`, in step."""
    every = am.Interval(every=timedelta(seconds=1), start=start)
    return [
        am.NewAutomation(title=f"tick {i}", prompt="tick", timezone="UTC", schedule=every)
        for i in range(count)
    ]


async def all_runs(rt: am.Runtime, automation_id: str) -> list[am.Run]:
    """Every run of the automation, page by page."""
    runs: list[am.Run] = []
    cursor = None
    while True:
        page = await rt.runs(automation_id, limit=500, cursor=cursor)
        runs += page.items
        if page.next_cursor is None:
            return runs
        cursor = page.next_cursor
