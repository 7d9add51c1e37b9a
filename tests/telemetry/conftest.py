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
    """The run once its revision in `state` reached the change feed's listeners
    (metrics, traces). A read of the database (`Runtime.wait`, the journal that
    `events()` replays first) may see a commit a moment before the writer hands it to
    the listeners, so this then waits until every commit it saw was handed over."""
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.id == run_id and run.state is state:
                    store = rt._services.store
                    _, committed = store.read_committed(lambda: None)
                    await store.wait_delivered(committed)
                    return run
    raise AssertionError("the event stream ended")
