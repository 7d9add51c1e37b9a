"""Bad input, generated: only `ValidationError` or `NotFound` comes out, nothing is
stored by a refused call, and nothing hangs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import automations as am
from automations.model import from_json

from ..integration.conftest import T0

pytestmark = pytest.mark.anyio

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
    st.just("x" * 100_000),
    st.just(""),
    st.just("\x00\ud7ff\U0010ffff"),
)
timezones = st.one_of(
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "", "Mars/Base", "../etc"]),
    st.text(max_size=30),
)
schedules = st.one_of(
    st.builds(
        am.Cron, st.one_of(st.text(max_size=30), st.sampled_from(["* * * * *", "0 0 31 2 *"]))
    ),
    st.builds(
        am.Interval,
        every=st.timedeltas(min_value=timedelta(seconds=-10), max_value=timedelta(days=400)),
    ),
    st.builds(
        am.Once,
        at=st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
        ),
    ),
)
new_automations = st.builds(
    am.NewAutomation,
    title=texts,
    prompt=texts,
    timezone=timezones,
    schedule=schedules,
    step_cap=st.integers(min_value=-5, max_value=10_000),
    executor=st.text(max_size=10),
)


async def _count(rt: am.Runtime) -> int:
    return len(await rt.list())


def _open(tmp_path: Path) -> Any:
    return am.open_runtime(
        tmp_path / "bad.db",
        project="p",
        directory="/d",
        clock=_Fixed(),
        min_interval=timedelta(seconds=1),
    )


class _Fixed(am.testing.ManualClock):
    def __init__(self) -> None:
        super().__init__(T0)


@given(new=new_automations)
@EXAMPLES
async def test_create_takes_valid_input_and_refuses_the_rest_storing_nothing(
    tmp_path: Path, new: am.NewAutomation
) -> None:
    async with _open(tmp_path) as rt:
        before = await _count(rt)
        with anyio.fail_after(10):
            try:
                created = await rt.create(new)
            except am.ValidationError as error:
                details = error.details
                assert details and all(field for field, _ in details)
                assert await _count(rt) == before
            else:
                assert await rt.get(created.id) == created


@given(payload=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
@EXAMPLES
def test_json_input_decodes_or_is_a_validation_error(payload: bytes) -> None:
    for kind in (am.NewAutomation, am.AutomationPatch):
        try:
            from_json(payload, kind)
        except am.ValidationError as error:
            assert error.details  # noqa: PT017 - decoding may also succeed


@given(
    changes=st.dictionaries(
        st.sampled_from(["title", "timezone", "step_cap", "colour", "schedule", "paused"]),
        st.one_of(texts, st.integers(), st.booleans(), st.none()),
        max_size=3,
    )
)
@EXAMPLES
async def test_update_with_generated_changes_validates_or_refuses(
    tmp_path: Path, changes: dict[str, Any]
) -> None:
    async with _open(tmp_path) as rt:
        a = await rt.create(
            am.NewAutomation(title="t", prompt="p", timezone="UTC", schedule=am.Cron("0 9 * * *"))
        )
        with anyio.fail_after(10):
            try:
                changed = await rt.update(a.id, **changes)
            except am.ValidationError:
                assert await rt.get(a.id) == a
            else:
                assert await rt.get(a.id) == changed


@given(ident=texts)
@EXAMPLES
async def test_unknown_ids_and_cursors_are_not_found_or_empty(tmp_path: Path, ident: str) -> None:
    async with _open(tmp_path) as rt:
        with anyio.fail_after(10):
            for call in (rt.get, rt.get_run, rt.delete, rt.run_now, rt.cancel):
                with pytest.raises(am.NotFound):
                    await call(ident)
            with pytest.raises(am.NotFound):
                await rt.answer(ident, ident, "yes")
            assert await rt.runs(ident, cursor=ident) == ([], None)
