"""`Runtime.preview`: what the HTTP layer's preview stands on, through the public API."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import automations as am

pytestmark = pytest.mark.anyio

DRAFT = am.NewAutomation(
    title="Brief", prompt="p", timezone="Europe/Berlin", schedule=am.Cron("0 9 * * 1-5")
)


async def test_preview_builds_without_storing(tmp_path: Path) -> None:
    async with am.open_runtime(tmp_path / "p.db", directory=str(tmp_path)) as rt:
        seq = await rt.last_event_seq()
        previewed = rt.preview(DRAFT)
        assert len(previewed.next_fires) == 5 and previewed.revision == 1
        berlin = ZoneInfo("Europe/Berlin")
        assert {fire.astimezone(berlin).hour for fire in previewed.next_fires} == {9}
        assert await rt.list() == [] and await rt.last_event_seq() == seq

        bad = am.NewAutomation(title="", prompt="p", timezone="Nowhere", schedule=am.Cron("x"))
        with pytest.raises(am.ValidationError) as refused:
            rt.preview(bad)
        fields = {field for field, _ in refused.value.details}
        assert fields == {"title", "timezone", "schedule.expression"}
