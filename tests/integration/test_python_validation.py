"""The Python path validates as the wire decoder does (issue 21, item 12): the same
`ValidationError` from a Python caller and a JSON caller, enums converted from their
strings, and nothing stored that cannot be read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import automations as am
from automations.model import from_json, to_json
from automations.testing import ManualClock

from .conftest import OpenRuntime, new

pytestmark = pytest.mark.anyio


async def _python_and_json_errors(
    runtime_factory: OpenRuntime, changes: dict[str, Any]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    async with runtime_factory() as rt:
        with pytest.raises(am.ValidationError) as from_python:
            await rt.create(new(**changes))
        wire = to_json(new(**changes))  # what a JSON caller would send
        with pytest.raises(am.ValidationError) as from_wire:
            await rt.create(from_json(wire, am.NewAutomation))
        assert await rt.list() == []  # nothing stored; the scope still reads back
    return from_python.value.details, from_wire.value.details


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"overlap": "sometimes"}, "overlap", "Invalid enum value 'sometimes'"),
        ({"step_cap": "many"}, "stepCap", "Expected `int`, got `str`"),
        ({"dst_skipped": "never"}, "dstSkipped", "Invalid enum value 'never'"),
        ({"where": am.Where(project=3)}, "where.project", "Expected `str`, got `int`"),  # type: ignore[arg-type]
    ],
)
async def test_a_bad_type_is_the_same_validation_error_from_python_and_json(
    runtime_factory: OpenRuntime, changes: dict[str, Any], field: str, message: str
) -> None:
    python, json = await _python_and_json_errors(runtime_factory, changes)
    assert python == json == [(field, f"invalid_value: {message}")]


@pytest.mark.parametrize("title", ["Deploy\x1b]0;pwned\x07", "two\nlines", "bell\x07", "c1\x9b2J"])
async def test_a_title_with_control_characters_is_refused(
    runtime_factory: OpenRuntime, title: str
) -> None:
    python, json = await _python_and_json_errors(runtime_factory, {"title": title})
    assert python == json == [("title", "title_has_control_characters")]


async def test_a_title_may_hold_any_printable_text(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        created = await rt.create(new(title="Brief — café ☕ 👩‍💻 (tab-free)"))
        assert created.title == "Brief — café ☕ 👩‍💻 (tab-free)"


async def test_a_valid_enum_string_becomes_the_enum_at_once(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    async with runtime_factory() as rt:
        created = await rt.create(
            new(schedule=am.Cron("30 2 * * *"), dst_skipped="skip", overlap="allow")
        )
        assert created.dst_skipped is am.DstSkipped.SKIP
        assert created.overlap is am.Overlap.ALLOW
        # The live definition skips the gap of 2026-03-29 (02:00-03:00 does not exist).
        days = [fire.astimezone(UTC).date().isoformat() for fire in created.next_fires]
        assert "2026-03-29" not in days and days[:2] == ["2026-03-28", "2026-03-30"]
        (listed,) = await rt.list()
        assert listed == created
