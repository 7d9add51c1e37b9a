"""A runtime follows three processes writing to one PostgreSQL database at once: through
`events()`, while they write, it receives every journal entry exactly once, in each
entity's revision order (the journal lock makes seqs visible in commit order; see
`postgresql/_writer.py`)."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import anyio
import pytest

import automations as am

pytestmark = pytest.mark.anyio

SCOPE = {"project": "follow", "directory": "/follow"}
SECONDS = 10.0
ROOT = Path(__file__).resolve().parents[3]


async def test_a_follower_hears_every_entry_of_three_writing_processes_once_in_order(
    pg_dsn: str,
) -> None:
    written: list[tuple[str, int]] = []
    heard: list[tuple[int, str, int]] = []

    async def writer(name: str) -> None:
        command = [sys.executable, "-m", "tests.persistence.postgresql.writer"]
        done = await anyio.run_process([*command, pg_dsn, name, str(SECONDS)], cwd=ROOT)
        written.extend((id, revision) for id, revision in json.loads(done.stdout))

    heard_more = anyio.Event()

    async def follow(events: am.EventStream) -> None:
        nonlocal heard_more
        async for event in events:
            if isinstance(event, am.DefinitionUpdated):
                automation = event.automation
                heard.append((event.seq, automation.id, automation.revision))
                heard_more.set()
                heard_more = anyio.Event()

    opening = am.open_runtime(pg_dsn, role="client", **SCOPE)  # type: ignore[arg-type]
    async with opening as follower, follower.events(0) as events, anyio.create_task_group() as g:
        g.start_soon(follow, events)
        async with anyio.create_task_group() as writers:
            for name in ("a", "b", "c"):
                writers.start_soon(writer, name)
        with anyio.fail_after(60):
            while len(heard) < len(written):
                await heard_more.wait()
        g.cancel_scope.cancel()
    assert len(written) > 100  # the writers did write, concurrently, while it followed
    assert sorted((id, revision) for _, id, revision in heard) == sorted(written)  # once each
    seqs = [seq for seq, _, _ in heard]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    revisions: dict[str, list[int]] = defaultdict(list)
    for _, id, revision in heard:
        revisions[id].append(revision)
    assert all(r == [1, 2] for r in revisions.values())  # each automation's revision order
