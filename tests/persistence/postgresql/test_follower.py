"""A runtime follows three others writing to one PostgreSQL database at once: through
`events()` it receives every journal entry exactly once, in each entity's revision
order (the journal lock makes seqs visible in commit order; see `_writer.py`)."""

from __future__ import annotations

from collections import defaultdict

import anyio
import pytest

import automations as am

pytestmark = pytest.mark.anyio

SCOPE = {"project": "follow", "directory": "/follow"}
SECONDS = 3.0


def _new(title: str) -> am.NewAutomation:
    return am.NewAutomation(
        title=title, prompt="follow", timezone="UTC", schedule=am.Cron("0 0 1 1 *")
    )


async def test_a_follower_hears_every_entry_of_three_writers_once_in_revision_order(
    pg_dsn: str,
) -> None:
    written: list[tuple[str, int]] = []
    heard: list[tuple[int, str, int]] = []

    async def writer(name: str) -> None:
        async with am.open_runtime(pg_dsn, role="client", **SCOPE) as rt:  # type: ignore[arg-type]
            deadline, i = anyio.current_time() + SECONDS, 0
            while anyio.current_time() < deadline:  # never cut a write: each is counted
                created = await rt.create(_new(f"{name} {i}"))
                written.append((created.id, 1))
                paused = await rt.pause(created.id)
                written.append((paused.id, paused.revision))
                i += 1

    async with am.open_runtime(pg_dsn, role="client", **SCOPE) as follower:  # type: ignore[arg-type]
        async with anyio.create_task_group() as writers:
            for name in ("a", "b", "c"):
                writers.start_soon(writer, name)
        with anyio.fail_after(30):
            async with follower.events(0) as events:
                async for event in events:
                    if isinstance(event, am.DefinitionUpdated):
                        automation = event.automation
                        heard.append((event.seq, automation.id, automation.revision))
                    if len(heard) >= len(written):
                        break
    assert len(written) > 30  # the writers did write, concurrently
    assert sorted((id, revision) for _, id, revision in heard) == sorted(written)  # once each
    seqs = [seq for seq, _, _ in heard]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    revisions: dict[str, list[int]] = defaultdict(list)
    for _, id, revision in heard:
        revisions[id].append(revision)
    assert all(r == [1, 2] for r in revisions.values())  # each automation's revision order
