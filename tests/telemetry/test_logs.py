"""Transition logs: one DEBUG line per transition, WARNING for a fault, the ids as
structured `extra`, under the `automations` logger tree; nothing printed."""

from __future__ import annotations

import logging

import pytest

import automations as am

from ..integration.conftest import OpenRuntime, new

pytestmark = pytest.mark.anyio


async def test_each_transition_is_a_debug_line_and_a_fault_a_warning(
    runtime_factory: OpenRuntime,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def agent(ctx: am.RunContext) -> str:
        if ctx.automation.title == "Boom":
            raise RuntimeError("the model is overloaded")
        return "ok"

    caplog.set_level(logging.DEBUG, logger="automations.runs")
    async with runtime_factory({"default": agent}) as rt:
        good = await rt.create(new())
        bad = await rt.create(new(title="Boom", where=am.Where("project-a", "other")))
        fine = await rt.wait((await rt.run_now(good.id)).id, timeout=10)
        failed = await rt.wait((await rt.run_now(bad.id)).id, timeout=10)
    lines = [r for r in caplog.records if r.name == "automations.runs"]
    by_run = {
        run.id: [(r.levelno, r.__dict__["state"]) for r in lines if r.__dict__["run_id"] == run.id]
        for run in (fine, failed)
    }
    assert by_run[fine.id] == [
        (logging.DEBUG, "scheduled"),
        (logging.DEBUG, "running"),
        (logging.DEBUG, "succeeded"),
    ]
    assert by_run[failed.id] == [
        (logging.DEBUG, "scheduled"),
        (logging.DEBUG, "running"),
        (logging.WARNING, "failed"),
    ]
    (warning,) = (r for r in lines if r.levelno == logging.WARNING)
    assert warning.__dict__["automation_id"] == bad.id
    assert warning.__dict__["error_code"] == "execution_failed"
    assert warning.getMessage() == (
        f"run {failed.id} of {bad.id} is failed "
        "(execution_failed: RuntimeError: the model is overloaded)"
    )
    assert capsys.readouterr() == ("", "")  # the library prints nothing itself


async def test_at_warning_only_faults_are_logged(
    runtime_factory: OpenRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="automations.runs")
    async with runtime_factory() as rt:
        a = await rt.create(new())
        await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert [r for r in caplog.records if r.name == "automations.runs"] == []
