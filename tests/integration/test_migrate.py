"""Moving house: `copy_store` and `automations migrate` from SQLite to PostgreSQL and
back. Afterwards the journal and the projections are equal, and a runtime opened on
the target sees the automations and their runs and fires the next slot; a non-empty
target and a source a worker still leads are refused, and nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

import automations as am
from automations.api import Runtime, open_runtime
from automations.model import StorageError
from automations.persistence import Copied, JournalEntry, copy_store, open_store
from automations.testing import ManualClock

from ..stores import Inspectable
from .conftest import T0, every, new

pytestmark = pytest.mark.anyio

SCOPE: dict[str, Any] = {"project": "moving", "directory": "/repo/house"}


@pytest.fixture(params=["sqlite>postgresql", "postgresql>sqlite"])
def ends(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(source, target): a SQLite file and a fresh PostgreSQL schema, one way or back."""
    dsn: str = request.getfixturevalue("pg_dsn")
    sqlite = str(tmp_path / "automations.db")
    return (sqlite, dsn) if request.param.startswith("sqlite") else (dsn, sqlite)


async def asker(ctx: am.RunContext) -> str:
    reply = await ctx.ask(am.Question("Go?", options=("yes", "no")))
    return f"said {reply}"


async def noop(ctx: am.RunContext) -> None:
    return None


EXECUTORS: dict[str, am.Executor] = {"default": noop, "asker": asker}


async def ended(rt: Runtime, automation_id: str, count: int) -> list[am.Run]:
    """Wait until `count` runs of the automation have ended; those runs, oldest first."""
    runs: dict[str, am.Run] = {}
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.automation_id == automation_id and run.state.is_terminal:
                    runs[run.id] = run
                if len(runs) >= count:
                    break
    return sorted(runs.values(), key=lambda r: (r.triggered_at, r.id))


async def fill(location: str, clock: ManualClock) -> tuple[am.Automation, am.Automation]:
    """A day's worth of ledger: a manual run, a scheduled fire, an answered question."""
    async with open_runtime(location, executors=EXECUTORS, clock=clock, **SCOPE) as rt:
        hourly = await rt.create(new(title="Hourly", schedule=every(3600)))
        asking = await rt.create(new(title="Asks", executor="asker"))
        await rt.run_now(hourly.id)
        await ended(rt, hourly.id, 1)
        await clock.wait_sleepers(1)
        clock.set(T0 + timedelta(hours=1))
        await ended(rt, hourly.id, 2)
        run = await rt.run_now(asking.id)
        waiting = await rt.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert waiting.blocker is not None
        await rt.answer(run.id, waiting.blocker.id, "yes")
        assert (await ended(rt, asking.id, 1))[0].result == "said yes"
    return hourly, asking


async def contents(location: str) -> tuple[list[JournalEntry], dict[str, list[tuple[Any, ...]]]]:
    async with open_store(location) as store:
        assert isinstance(store, Inspectable)
        journal = await store.reader.all_journal(0, 100_000)
        return journal, await store.projections()


async def test_a_copy_equals_its_source_and_its_runtime_fires_the_next_slot(
    ends: tuple[str, str],
) -> None:
    source, target = ends
    clock = ManualClock(T0)
    hourly, asking = await fill(source, clock)
    before = await contents(source)
    seen: list[tuple[int, int]] = []

    copied = await copy_store(source, target, batch=3, progress=lambda *p: seen.append(p))

    assert copied.entries == len(before[0]) and copied.rows["runs"] == 3
    assert copied.rows["answers"] == 1
    assert seen[-1][0] == before[0][-1].seq and len(seen) == -(-len(before[0]) // 3)
    assert await contents(target) == before  # journal and projections, row for row
    assert await contents(source) == before  # the source is as it was

    async with open_runtime(target, executors=EXECUTORS, clock=clock, **SCOPE) as rt:
        assert {a.id for a in await rt.list()} == {hourly.id, asking.id}
        page = await rt.runs(hourly.id)
        assert [r.state for r in page.items] == [am.RunState.SUCCEEDED] * 2
        (answered,) = (await rt.runs(asking.id)).items
        assert answered.result == "said yes"
        await clock.wait_sleepers(1)
        clock.set(T0 + timedelta(hours=2))
        runs = await ended(rt, hourly.id, 3)
    assert runs[-1].trigger is am.Trigger.SCHEDULE
    assert runs[-1].triggered_at == T0 + timedelta(hours=2)
    assert runs[-1].state is am.RunState.SUCCEEDED


async def test_a_target_that_holds_anything_is_refused_and_left_alone(
    ends: tuple[str, str],
) -> None:
    source, target = ends
    clock = ManualClock(T0)
    await fill(source, clock)
    async with open_runtime(target, executors=EXECUTORS, clock=clock, **SCOPE) as rt:
        await rt.create(new(title="Already here"))
    before = await contents(target)
    with pytest.raises(StorageError, match=r"its numbers reach 1\); nothing was written"):
        await copy_store(source, target)
    assert await contents(target) == before


async def test_a_source_a_worker_leads_is_refused(tmp_path: Path) -> None:
    source, target = str(tmp_path / "live.db"), tmp_path / "new.db"
    async with open_runtime(source, executors=EXECUTORS, clock=ManualClock(T0), **SCOPE) as rt:
        await rt.create(new())
        with pytest.raises(StorageError, match="stop every worker of the source first"):
            await copy_store(source, str(target))
    assert not await anyio.Path(target).exists()  # refused before anything was made


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "automations", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, COLUMNS="200"),
    )


async def test_the_command_copies_and_refuses_in_one_line(pg_dsn: str, tmp_path: Path) -> None:
    source = str(tmp_path / "automations.db")
    await fill(source, ManualClock(T0))
    done = await anyio.to_thread.run_sync(
        lambda: _cli("migrate", "--from", source, "--to", pg_dsn, "--json")
    )
    assert done.returncode == 0, done.stderr
    copied = msgspec.json.decode(done.stdout, type=Copied)
    assert copied.rows["automations"] == 2 and copied.rows["runs"] == 3

    again = await anyio.to_thread.run_sync(
        lambda: _cli("migrate", "--from", source, "--to", pg_dsn)
    )
    assert again.returncode == 1
    (line,) = again.stderr.splitlines()
    assert line.startswith("error: ") and "has a journal already" in line


async def test_a_target_a_worker_already_runs_on_is_refused(tmp_path: Path) -> None:
    source, target = str(tmp_path / "old.db"), str(tmp_path / "new.db")
    await fill(source, ManualClock(T0))
    async with open_runtime(target, executors=EXECUTORS, clock=ManualClock(T0), **SCOPE):
        with pytest.raises(StorageError, match="a worker already runs on"):
            await copy_store(source, target)
        async with open_store(target) as store:
            assert await store.reader.last_seq() == 0  # nothing was written
