"""The kill sweep: SIGKILL a busy worker at seeded points of its life, and check after
each restart that nothing it acknowledged was lost.

Each life of `sweep_worker` serves 50 one-second interval automations, fires a burst
of run-now runs and answers questions, printing every acknowledgement. After the kill
a new worker (this process) takes the lease and reconciles; then:

- every run acknowledged by `run_now` exists and is terminal (finished, or reconciled);
- every answer acknowledged by `answer` is stored, and its run ended;
- the journal's sequence numbers have no gap;
- `replay()` rebuilds exactly the projections the writes left;
- no slot has two runs.

It runs on both stores (`location`: a SQLite file, or a PostgreSQL schema).
`AUTOMATIONS_RELIABILITY=long` sweeps 100 points instead of 20.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc
import pytest

import automations as am
from automations.persistence import open_store
from automations.persistence.sqlite import SqliteStore

from ..stores import Inspectable, rows
from .sweep_worker import open_sweep_runtime

# One backend: the worker is a subprocess (on asyncio), and the sweep is long.
pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261122
POINTS = 100 if os.environ.get("AUTOMATIONS_RELIABILITY") == "long" else 20


@dataclass
class Acknowledged:
    runs: set[str] = field(default_factory=set)
    answers: set[tuple[str, str]] = field(default_factory=set)

    def take(self, line: str) -> None:
        words = line.split()
        if words[:1] == ["ack"]:
            self.runs.add(words[1])
        elif words[:1] == ["answered"]:
            self.answers.add((words[1], words[2]))


async def _one_life(location: str, ids: str, delay: float, acknowledged: Acknowledged) -> None:
    """Start a worker, let it work `delay` seconds, SIGKILL it; note what it promised."""
    command = [sys.executable, "-m", "tests.reliability.sweep_worker", location, ids]
    async with await anyio.open_process(command, cwd=ROOT) as worker:
        assert worker.stdout is not None
        buffer = ""
        ready = False
        try:
            with anyio.fail_after(30):
                while not ready:
                    buffer += (await worker.stdout.receive()).decode()
                    ready = "ready\n" in buffer
            with anyio.move_on_after(delay):
                async for chunk in worker.stdout:
                    buffer += chunk.decode()
            assert worker.returncode is None, f"the worker died on its own: {buffer[-2000:]}"
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            if worker.returncode is None:
                worker.kill()
            await worker.wait()
        async for chunk in worker.stdout:  # what was written before the kill
            buffer += chunk.decode()
    complete = buffer[: buffer.rfind("\n") + 1]  # a line cut by the kill promised nothing
    for line in complete.splitlines():
        acknowledged.take(line)


async def _restart_and_check(location: str, acknowledged: Acknowledged) -> None:
    async with open_sweep_runtime(location) as rt:
        promised = acknowledged.runs | {run for run, _ in acknowledged.answers}
        states = dict(await rows(rt._services.store, "SELECT id, state FROM runs"))
        assert promised <= states.keys(), "an acknowledged run was lost"
        for run_id in promised:
            if states[run_id] not in ("succeeded", "failed", "stopped"):  # in flight
                try:
                    ended = await rt.wait(run_id, until=am.RunState.STOPPED, timeout=10)
                except TimeoutError:
                    run = await rt.get_run(run_id)
                    raise AssertionError(
                        f"run {run_id} stayed {run.state} after the restart: not reconciled"
                    ) from None
                assert ended.state.is_terminal, ended
    async with open_store(location) as store:
        assert isinstance(store, Inspectable)
        seqs = [seq for (seq,) in await rows(store, "SELECT seq FROM journal ORDER BY seq")]
        if isinstance(store, SqliteStore):  # a PostgreSQL sequence skips a rolled-back seq
            assert seqs == list(range(1, len(seqs) + 1)), "the journal has a gap"
        assert len(set(seqs)) == len(seqs)
        answers = {
            (str(r), str(b)) for r, b in await rows(store, "SELECT run_id, blocker_id FROM answers")
        }
        assert acknowledged.answers <= answers, "an acknowledged answer was lost"
        doubles = await rows(
            store,
            "SELECT automation_id, slot FROM runs WHERE slot IS NOT NULL"
            " GROUP BY automation_id, slot HAVING count(*) > 1",
        )
        assert doubles == [], "a slot fired twice"
        before = await store.projections()
        await store.replay()
        assert await store.projections() == before, "replay differs from the projections"


async def test_sigkill_at_seeded_points_loses_nothing_acknowledged(
    location: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    acknowledged = Acknowledged()
    ids = str(tmp_path / "sweep.ids.json")
    for _ in range(POINTS):
        await _one_life(location, ids, rng.uniform(0.05, 1.2), acknowledged)
        await _restart_and_check(location, acknowledged)
    # The sweep must have exercised what it claims to: runs and answers in flight.
    assert len(acknowledged.runs) >= POINTS * 10
    assert len(acknowledged.answers) >= POINTS // 2
    print(
        f"{POINTS} kills: {len(acknowledged.runs)} acknowledged runs and "
        f"{len(acknowledged.answers)} acknowledged answers, none lost"
    )
