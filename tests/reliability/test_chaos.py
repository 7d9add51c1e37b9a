"""The chaos run: several workers and clients on one file, the lease holder killed and
frozen at seeded moments, and what must hold throughout.

Three workers serve the chaos scope (30 one-second interval automations with a 2 s
catch-up window, one asking automation whose unattended questions time out after
3.5 s); two clients run, cancel and answer as fast as they are acknowledged. Every 3-8
s the run either SIGKILLs a worker (mostly the lease holder) and starts a new one, or
freezes the lease holder with SIGSTOP for 6-8 s (past `STALE_SECONDS`, so a standby
takes the lease) and wakes it with SIGCONT. At the end every process is closed
cleanly (SIGTERM), and then:

- no slot has two runs, and no executor started twice for one;
- every acknowledged run-now exists;
- no executor of a slot started past its catch-up window (a deposed or frozen holder
  starts no slot late);
- no run is left `running` by a process that closed cleanly (one recorded ahead of
  a slot still to come is left `scheduled`, for the next lease holder);
- no blocker timeout was recorded for a question whose answer was acknowledged;
- no cancel failed to return;
- every slot of the checked range has a run or a missed record;
- replaying the journal rebuilds the projections exactly.

Short in `make test` (20 s of chaos); `AUTOMATIONS_CHAOS=SECONDS` runs it longer, and
`AUTOMATIONS_CHAOS_SEED` picks the seed. It prints what it did.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import anyio
import anyio.abc
import pytest

import automations as am
from automations.actors import STALE_SECONDS
from automations.model import Scope, ms_of, to_ms
from automations.persistence import lease_name, open_store

from ..stores import Inspectable
from .chaos_worker import DIRECTORY, PROJECT, WINDOW, chaos_automations

# One backend: the subjects are processes, and the run takes real time.
pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("AUTOMATIONS_CHAOS", "20"))
SEED = int(os.environ.get("AUTOMATIONS_CHAOS_SEED", "20261206"))
SCOPE = Scope(PROJECT, DIRECTORY)
LATE_MS = ms_of(WINDOW) + 1_000
"""How late after its slot an executor may start: the window, and a second for the
commit and the wake-up of a run admitted at its end."""


@dataclass
class Process:
    role: str
    process: anyio.abc.Process
    log: Path
    lines: list[str] = field(default_factory=list)
    owner: str = ""
    killed: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, number: signal.Signals) -> None:
        """Send `number`; a process that already exited fails the test with its log."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)
                return
        errors = self.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"{self.role} {self.owner} exited by itself: {errors}")


@dataclass
class Tally:
    kills: int = 0
    freezes: int = 0


async def _start(db: str, role: str, seed: int, tg: anyio.abc.TaskGroup, logs: Path) -> Process:
    command = [sys.executable, "-m", "tests.reliability.chaos_worker", str(db), role, str(seed)]
    log = logs / f"{role}-{seed}-{time.monotonic_ns()}.log"
    with log.open("wb") as errors:
        process = Process(role, await anyio.open_process(command, cwd=ROOT, stderr=errors), log)
    owned = anyio.Event()

    async def read() -> None:
        assert process.process.stdout is not None
        buffer = ""
        async for chunk in process.process.stdout:
            buffer += chunk.decode()
            *lines, buffer = buffer.split("\n")
            for line in lines:
                process.lines.append(line)
                if line.startswith("owner "):
                    process.owner = line.split()[1]
                    owned.set()

    tg.start_soon(read)
    with anyio.fail_after(30):
        await owned.wait()
    return process


def _pid_of(owner: str) -> int:
    return int(owner.split("-")[-2])  # hostname-pid-random (api._owner)


async def _holder(db: str) -> str | None:
    async with open_store(db) as store:
        row = await store.reader.lease(lease_name(SCOPE))
    return None if row is None else row.holder


async def _handled_until(db: str, last_ms: int) -> None:
    """Wait until every tick automation's schedule has moved past `last_ms`: each slot
    up to it fired or was recorded missed (or passed without a word, which the check
    then finds). A holder frozen just before the end leaves its slots to a standby
    that takes over only after `STALE_SECONDS`."""
    async with am.open_runtime(db, project=PROJECT, directory=DIRECTORY, role="client") as rt:
        with anyio.fail_after(30):
            while True:
                ticks = [a for a in await rt.list() if a.title.startswith("tick")]
                if all(a.next_fire_at is None or to_ms(a.next_fire_at) > last_ms for a in ticks):
                    return
                await anyio.sleep(0.1)  # another process's schedule: nothing here to wait on


async def _chaos(db: str, workers: list[Process], tg: anyio.abc.TaskGroup, logs: Path) -> Tally:
    chance, tally = random.Random(SEED), Tally()
    until = time.monotonic() + SECONDS
    while time.monotonic() < until:
        await anyio.sleep(chance.uniform(3, 8))  # the first action freezes the holder
        holder = await _holder(db)
        live = [w for w in workers if not w.killed]
        target = next((w for w in live if w.owner == holder), None)
        if target is None or chance.random() < 0.25:
            target = chance.choice(live)
        if target.owner == holder and (not tally.freezes or chance.random() < 0.3):
            tally.freezes += 1
            target.send(signal.SIGSTOP)
            await anyio.sleep(chance.uniform(STALE_SECONDS + 1, STALE_SECONDS + 3))
            target.send(signal.SIGCONT)
        else:
            tally.kills += 1
            target.send(signal.SIGKILL)
            target.killed = True
            workers.append(await _start(db, "worker", 0, tg, logs))
    return tally


async def _close(processes: list[Process]) -> None:
    for p in processes:
        if not p.killed:
            p.send(signal.SIGTERM)
    with anyio.fail_after(60):
        for p in processes:
            code = await p.process.wait()
            await p.process.aclose()
            if not p.killed:
                errors = p.log.read_text(errors="replace")[-2000:]
                assert code == 0, f"{p.role} {p.owner} exited {code}: {p.lines[-5:]} {errors}"


async def _all_runs(rt: am.Runtime) -> list[am.Run]:
    runs: list[am.Run] = []
    for automation in await rt.list():
        cursor = None
        while True:
            page = await rt.runs(automation.id, limit=500, cursor=cursor)
            runs += page.items
            if (cursor := page.next_cursor) is None:
                break
    return runs


async def test_a_killed_or_frozen_lease_holder_breaks_no_promise(
    location: str, tmp_path: Path
) -> None:
    db = location
    logs = tmp_path / "logs"
    logs.mkdir()
    start_ms = (math.ceil(time.time()) + 6) * 1000
    async with am.open_runtime(
        db, project=PROJECT, directory=DIRECTORY, role="client", min_interval=timedelta(seconds=1)
    ) as rt:
        await rt.create_many(chaos_automations(start_ms))
    processes: list[Process] = []
    async with anyio.create_task_group() as tg:
        workers = [await _start(db, "worker", 0, tg, logs) for _ in range(3)]
        clients = [await _start(db, "client", SEED + i, tg, logs) for i in range(2)]
        processes = workers + clients
        await anyio.sleep(max(0.0, start_ms / 1000 - time.time()))
        tally = await _chaos(db, workers, tg, logs)
        end_ms = int(time.time() * 1000)
        await _handled_until(db, end_ms - 4_000)
        processes = workers + clients
        await _close(processes)
    await _check(db, processes, start_ms, end_ms, tally)


async def _check(
    db: str, processes: list[Process], start_ms: int, end_ms: int, tally: Tally
) -> None:
    lines = [line.split() for p in processes for line in p.lines]
    starts = [w for w in lines if w[:1] == ["start"] and w[6] == "0"]  # not resumed
    acked = {w[1] for w in lines if w[:1] == ["ack"]}
    answered = {(w[1], w[2]) for w in lines if w[:1] == ["answered"]}
    assert not [w for w in lines if w[:1] == ["stuck"]], "a cancel did not return"
    executed = Counter(w[1] for w in starts if w[2] == "schedule" and w[5] == "tick")
    assert not [run for run, n in executed.items() if n > 1], "an executor started twice"
    late = [w for w in starts if w[2] == "schedule" and int(w[4]) - int(w[3]) > LATE_MS]
    assert not late, f"{len(late)} slots started past their catch-up window: {late[:3]}"
    cleanly = {p.owner for p in processes if not p.killed}
    async with open_store(db) as store:
        assert isinstance(store, Inspectable)
        before = await store.projections()
        assert await store.replay() > 0
        assert await store.projections() == before, "replay differs from the projections"
    async with am.open_runtime(db, project=PROJECT, directory=DIRECTORY, role="client") as rt:
        runs = await _all_runs(rt)
        ticks = {a.id for a in await rt.list() if a.title.startswith("tick")}
        owners = {
            run.id: await rt._services.store.reader.run_owner(rt.scope, run.id)
            for run in runs
            if run.state is am.RunState.RUNNING
        }
    by_id = {run.id: run for run in runs}
    assert acked <= by_id.keys(), "an acknowledged run-now was lost"
    left = [run_id for run_id, owner in owners.items() if owner in cleanly]
    assert not left, f"runs left running by processes that closed cleanly: {left}"
    timed_out = [
        run_id
        for run_id, _ in answered
        if (ended := by_id.get(run_id)) is not None
        and ended.error is not None
        and ended.error.code is am.ErrorCode.NEEDS_USER_INPUT
    ]
    assert not timed_out, f"blocker timeouts recorded after their answer: {timed_out}"
    slots = Counter(
        (r.automation_id, r.triggered_at)
        for r in runs
        if r.trigger is not am.Trigger.MANUAL and r.stop_reason is not am.StopReason.MISSED_SCHEDULE
    )
    assert max(slots.values(), default=0) <= 1, "a slot has two runs"
    _every_slot_covered([r for r in runs if r.automation_id in ticks], start_ms, end_ms - 4_000)
    print(
        f"chaos {SECONDS:.0f}s seed {SEED}: {tally.kills} kills, {tally.freezes} freezes, "
        f"{len(runs)} runs, {len(executed)} slot executions, {len(acked)} run-nows, "
        f"{len(answered)} answers, {len(late)} late starts"
    )


def _every_slot_covered(runs: list[am.Run], first_ms: int, last_ms: int) -> None:
    """Every one-second slot of each tick automation in [first, last] has a run or lies
    in a missed record: nothing is dropped without a word."""
    covered: dict[str, set[int]] = {}
    for run in runs:
        slots = covered.setdefault(run.automation_id, set())
        if run.missed is not None:
            slots.update(range(to_ms(run.missed.first), to_ms(run.missed.last) + 1, 1000))
        else:
            slots.add(to_ms(run.triggered_at))
    for automation_id, slots in covered.items():
        gaps = [ms for ms in range(first_ms, last_ms, 1000) if ms not in slots]
        assert not gaps, f"{automation_id}: slots with no record: {gaps[:5]}"
