"""A fire the database refuses is tried again a second later: late, never lost.

The run of a slot and the automation's next fire are written in one transaction, so
a refused write leaves the slot due in the database. The scheduler had taken it from
its index, though, and used to find it again only at its next read of the index,
five minutes later (past most catch-up windows). The database refuses here the way a
full disk does: on SQLite a trigger makes the run's insert outgrow the writer's page
cap (SQLite's own SQLITE_FULL); on PostgreSQL a trigger raises `disk_full`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import apsw
import psycopg
import pytest

import automations as am
from automations.persistence.sqlite import Pragma
from automations.testing import ManualClock

from ..stores import sqlite_of
from .conftest import OpenRuntime, every, first_ended_run, new

pytestmark = pytest.mark.anyio

_SQLITE_FULL = """
CREATE TABLE ballast (b BLOB);
CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN
    INSERT INTO ballast VALUES (randomblob(1000000));
END;
"""
_POSTGRESQL_FULL = """
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'no space left on device' USING ERRCODE = 'disk_full'; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION refuse();
"""


class _Refusals(logging.Handler):
    """Sets `seen` once the scheduler says it will look at a refused slot again."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("looking at the next fire of"):
            self.seen.set()


@pytest.fixture
def refusals() -> Iterator[_Refusals]:
    handler = _Refusals()
    logger = logging.getLogger("automations.actors")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)


async def _refuse_writes(rt: am.Runtime, store_kind: str, location: str, refuse: bool) -> None:
    if store_kind == "sqlite":
        store = sqlite_of(rt._services.store)
        if refuse:  # the writer's connection may grow the file by 16 pages, no more
            pages = (await store.write(Pragma("PRAGMA page_count")))[0][0]
            await store.write(Pragma(f"PRAGMA max_page_count = {pages + 16}"))

    def change() -> None:
        if store_kind == "sqlite":
            with contextlib.closing(apsw.Connection(location)) as connection:
                connection.setbusytimeout(10_000)
                connection.execute(_SQLITE_FULL if refuse else "DROP TRIGGER refuse")
            return
        with psycopg.connect(location, autocommit=True) as connection:
            if refuse:
                connection.execute(_POSTGRESQL_FULL)
            else:
                connection.execute("DROP TRIGGER refuse ON runs; DROP FUNCTION refuse()")

    await anyio.to_thread.run_sync(change)


async def test_a_slot_refused_by_a_full_disk_fires_a_second_after_the_disk_has_room(
    runtime_factory: OpenRuntime,
    clock: ManualClock,
    store_kind: str,
    location: str,
    refusals: _Refusals,
) -> None:
    async with runtime_factory() as rt:
        automation = await rt.create(new(schedule=every(60), timezone="UTC"))
        slot = automation.next_fire_at
        assert slot is not None
        await _refuse_writes(rt, store_kind, location, refuse=True)
        clock.set(slot)
        refused = await anyio.to_thread.run_sync(refusals.seen.wait, 10)
        assert refused, "the scheduler noted no refused fire: the test proves nothing"
        await _refuse_writes(rt, store_kind, location, refuse=False)
        clock.advance(1)
        run = await first_ended_run(rt, automation.id)
        assert run.triggered_at == slot
        assert run.state is am.RunState.SUCCEEDED
        assert (await rt.get(automation.id)).next_fire_at == slot + timedelta(seconds=60)


async def test_an_update_while_a_refused_fire_is_pending_does_not_pass_its_slot(
    runtime_factory: OpenRuntime, clock: ManualClock, db: Path, refusals: _Refusals
) -> None:
    """The update is handled after the fire's writes were submitted, before they are
    refused (another connection holds the write lock meanwhile): it must not write the
    next fire the refused write had computed."""
    async with runtime_factory() as rt:
        automation = await rt.create(new(schedule=every(60), timezone="UTC"))
        slot = automation.next_fire_at
        assert slot is not None
        await _refuse_writes(rt, "sqlite", str(db), refuse=True)
        with contextlib.closing(apsw.Connection(str(db))) as blocker:
            blocker.setbusytimeout(10_000)
            blocker.execute("BEGIN IMMEDIATE")  # the fire's batch waits behind it
            clock.set(slot)
            await anyio.wait_all_tasks_blocked()  # the fire's writes wait for the lock
            async with anyio.create_task_group() as tg:
                updated: list[am.Automation] = []

                async def update() -> None:
                    updated.append(await rt.update(automation.id, title="renamed"))

                tg.start_soon(update)
                await anyio.wait_all_tasks_blocked()  # the update reached the actor
                blocker.execute("COMMIT")
        assert updated[0].next_fire_at == slot, "the update passed the refused slot"
        refused = await anyio.to_thread.run_sync(refusals.seen.wait, 10)
        assert refused, "the scheduler noted no refused fire: the test proves nothing"
        await _refuse_writes(rt, "sqlite", str(db), refuse=False)
        clock.advance(1)
        run = await first_ended_run(rt, automation.id)
        assert run.triggered_at == slot
        assert (await rt.get(automation.id)).title == "renamed"
