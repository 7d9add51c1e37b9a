"""`Runtime.preview` and `Runtime.lease_holder`: what the HTTP layer's preview and
health check stand on, through the public API."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
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


async def test_the_lease_holder_is_the_worker_as_a_client_sees_it(tmp_path: Path) -> None:
    path, directory = tmp_path / "l.db", str(tmp_path)
    async with am.open_runtime(path, directory=directory) as worker:
        holder = await _holder(worker)
        async with am.open_runtime(path, directory=directory, role="client") as client:
            assert await client.lease_holder() == holder


async def _holder(rt: am.Runtime) -> str:
    """The holder, once the worker took the lease (it competes for it in the background;
    nothing announces it, so this polls, with a deadline)."""
    with anyio.fail_after(10):
        for _ in range(100_000):
            holder = await rt.lease_holder()
            if holder is not None:
                return holder
            await anyio.sleep(0.01)
    raise AssertionError("no process took the lease")
