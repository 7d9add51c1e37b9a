"""Idempotent create (issue 21, item 8): a service that creates its automations at each
start passes a key; creating again returns the automation of that key, or `Conflict`
when its definition differs."""

from __future__ import annotations

from pathlib import Path

import anyio
import apsw
import pytest

import automations as am

from .conftest import OpenRuntime, every, new

pytestmark = pytest.mark.anyio


async def test_creating_again_with_a_key_returns_the_automation(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory() as rt:
        first = await rt.create(new(key="morning-brief", schedule=every(60)))
        paused = await rt.pause(first.id)  # people pause it: still the same definition
    async with runtime_factory() as rt:  # the service starts again
        again = await rt.create(new(key="morning-brief", schedule=every(60)))
        assert again == paused
        assert [a.id for a in await rt.list()] == [first.id]
        assert again.key == "morning-brief"


async def test_a_different_definition_under_a_key_is_a_conflict(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory() as rt:
        first = await rt.create(new(key="brief"))
        with pytest.raises(am.Conflict, match=f"automation {first.id} already has key 'brief'"):
            await rt.create(new(key="brief", title="Another title"))
        other = await rt.create(new(key="other"))  # another key: another automation
        assert {a.id for a in await rt.list()} == {first.id, other.id}


async def test_keys_are_per_scope(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as here:
        a = await here.create(new(key="brief"))
    async with runtime_factory(directory="/repo/b") as there:
        b = await there.create(new(key="brief"))
    assert a.id != b.id


async def test_racing_creates_with_one_key_make_one_automation(
    runtime_factory: OpenRuntime,
) -> None:
    made: list[am.Automation] = []
    async with runtime_factory() as rt:

        async def create() -> None:
            made.append(await rt.create(new(key="raced")))

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(create)
        assert len({a.id for a in made}) == 1
        assert len(await rt.list()) == 1


async def test_a_bad_key_is_a_validation_error(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        for key in ("", "  ", "line\nbreak", "k" * 201):
            with pytest.raises(am.ValidationError) as caught:
                await rt.create(new(key=key))
            assert caught.value.details == [("key", "invalid_key")]


async def test_the_key_is_stored_unique_per_scope(runtime_factory: OpenRuntime, db: Path) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(key="brief"))
    connection = apsw.Connection(str(db))
    try:
        rows = connection.execute("SELECT id, key FROM automations").fetchall()
        assert rows == [(a.id, "brief")]
        with pytest.raises(apsw.ConstraintError):
            connection.execute(
                "INSERT INTO automations (id, project, directory, revision, updated_at, body,"
                " key) SELECT 'automation_x', project, directory, 1, 0, body, key"
                " FROM automations"
            )
    finally:
        connection.close()
