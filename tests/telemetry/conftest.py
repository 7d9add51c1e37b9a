"""The integration fixtures (a real runtime on a real store, both stores), for the
telemetry tests, and a wait on the change feed itself."""

from __future__ import annotations

import anyio

import automations as am
from automations.api import Runtime

from ..integration.conftest import (
    clock,
    location,
    pytest_configure,
    pytest_generate_tests,
    runtime_factory,
)

__all__ = [
    "clock",
    "location",
    "pytest_configure",
    "pytest_generate_tests",
    "reached",
    "runtime_factory",
]


async def reached(rt: Runtime, run_id: str, state: am.RunState) -> am.Run:
    """The run once its event in `state` is published. Unlike `Runtime.wait`, which
    may read a commit from the database a moment before the writer hands it to the
    change feed's listeners, this returns after the listeners (metrics, traces) had it:
    they hear a commit in the same callback as the event hub, before any subscriber."""
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.id == run_id and run.state is state:
                    return run
    raise AssertionError("the event stream ended")
