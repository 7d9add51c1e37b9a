"""LISTEN/NOTIFY wakes a follower on PostgreSQL: a commit by another process reaches a
watch at once, not at its next fallback poll; polling is still there behind it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import anyio
import pytest

import automations as am
from automations.model import Event, Scope
from automations.persistence import open_store
from automations.persistence.postgresql import PgChangeWatch, PostgresStore

from ..conformance.builders import create_automation

pytestmark = pytest.mark.anyio

_CREATE = """
import sys, anyio, automations as am
async def main():
    async with am.open_runtime(sys.argv[1], role="client", project="notify", directory="/n") as rt:
        await rt.create(am.NewAutomation(title="n", prompt="p", timezone="UTC",
                                         schedule=am.Cron("0 0 1 1 *")))
anyio.run(main)
"""


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    async with open_store(pg_dsn) as opened:
        assert isinstance(opened, PostgresStore)
        yield opened


async def _changed(watch: PgChangeWatch) -> None:
    while not watch.changed():  # woken by what arrives on the LISTEN connection
        socket = watch.fileno()
        assert socket is not None
        await anyio.wait_readable(socket)


async def test_another_store_s_commit_wakes_the_watch_before_any_poll_would(
    store: PostgresStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PgChangeWatch, "FALLBACK_SECONDS", 3600.0)  # no poll in this test
    watch = store.open_watch()
    try:
        assert watch.changed()  # the first look, which LISTENs before it reads
        before = await anyio.to_thread.run_sync(watch.heads)
        assert watch.listening and not watch.changed()
        async with open_store(pg_dsn) as other:  # its own writer and notifier
            await create_automation(other)
        with anyio.fail_after(20):  # only a notification can say so within the hour
            await _changed(watch)
        after = await anyio.to_thread.run_sync(watch.heads)
        assert after[0] > before[0]
    finally:
        watch.close()


async def test_a_runtime_s_follower_hears_another_process_s_commit_through_notify(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a process started afterwards creates reaches the runtime's follower, though
    its poll would not look again within the hour."""
    monkeypatch.setattr(PgChangeWatch, "FALLBACK_SECONDS", 3600.0)
    heard: list[str] = []
    arrived = anyio.Event()

    def listener(scope: Scope, event: Event) -> None:
        if isinstance(event, am.DefinitionUpdated):
            heard.append(event.automation.title)
            arrived.set()

    opening = am.open_runtime(pg_dsn, role="client", project="notify", directory="/n")
    async with opening as rt:
        follower = rt._supervisor.follower
        follower.add_listener(rt._services.scope, listener)
        with anyio.fail_after(20):
            await follower.wait_past(0)  # it looked once: it listens
        await anyio.run_process([sys.executable, "-c", _CREATE, pg_dsn])
        with anyio.fail_after(20):
            await arrived.wait()
    assert heard == ["n"]


async def test_the_store_s_own_commits_do_not_wake_its_watch(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PgChangeWatch, "FALLBACK_SECONDS", 3600.0)
    watch = store.open_watch()
    other = PgChangeWatch(store.dsn, store.schema)  # as another process's watch

    try:
        await create_automation(store)  # the notifier connects on its first commit
        for probe in (watch, other):
            assert probe.changed()
            await anyio.to_thread.run_sync(probe.heads)
        await create_automation(store)
        with anyio.fail_after(20):
            await _changed(other)
        assert not watch.changed()  # its own: the process knows of it already
    finally:
        watch.close()
        other.close()


async def test_without_a_listening_connection_the_watch_polls(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = store.open_watch()
    try:
        assert watch.changed()
        await anyio.to_thread.run_sync(watch.heads)
        assert watch.listening
        watch._drop_listener()  # a dropped connection: the hint is gone
        monkeypatch.setattr(PgChangeWatch, "POLL_SECONDS", 0.0)
        assert watch.changed()  # polled again at once
    finally:
        watch.close()
