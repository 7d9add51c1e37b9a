"""A real runtime on a real store, and executors the tests steer with events.

Every test that opens its runtimes through `runtime_factory` (or asks for `location`)
runs on both stores: SQLite and PostgreSQL (a fresh schema of the session's server,
`tests/pg.py`; skipped, saying why, where there is no PostgreSQL). A test that asks
for `db`, the SQLite file, looks inside that file, and runs on SQLite only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

import automations as am
from automations.actors import _presence
from automations.api import Runtime, open_runtime
from automations.testing import ManualClock

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

OpenRuntime = Callable[..., AbstractAsyncContextManager[Runtime]]


class Gate:
    """An executor that records its calls and waits until the test releases it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.started = anyio.Event()
        self.release = anyio.Event()
        self.cancelled = False
        self._called = anyio.Event()

    async def wait_calls(self, count: int) -> None:
        """Wait until the executor was entered `count` times."""
        while len(self.calls) < count:
            await self._called.wait()

    async def __call__(self, ctx: am.RunContext) -> str:
        self.calls.append(ctx.run.id)
        self.started.set()
        self._called.set()
        self._called = anyio.Event()
        try:
            await self.release.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            raise
        return "released"


async def noop(ctx: am.RunContext) -> None:
    return None


STORES = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test plays a failure only SQLite has (say which)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames:
        only_sqlite = "db" in metafunc.fixturenames or metafunc.definition.get_closest_marker(
            "sqlite_only"
        )
        metafunc.parametrize("store_kind", ["sqlite"] if only_sqlite else STORES)


@pytest.fixture
def quick_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker heartbeats every 50 ms (fleet tests wait for the workers' rows)."""
    monkeypatch.setattr(_presence, "HEARTBEAT_SECONDS", 0.05)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The SQLite file (a test that asks for it runs on SQLite only)."""
    return tmp_path / "automations.db"


@pytest.fixture
def location(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's runtimes keep their data: the SQLite file, or a PostgreSQL URL."""
    if store_kind == "postgresql":
        dsn: str = request.getfixturevalue("pg_dsn")
        return dsn
    return str(tmp_path / "automations.db")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def runtime_factory(location: str, clock: ManualClock) -> OpenRuntime:
    """Opens runtimes on the test's store, with a manual clock by default."""

    @asynccontextmanager
    async def factory(
        executors: Mapping[str, am.Executor] | None = None, **options: Any
    ) -> AsyncIterator[Runtime]:
        options.setdefault("clock", clock)
        options.setdefault("project", "project-a")
        options.setdefault("directory", "/repo/a")
        options.setdefault("cancel_grace", 2.0)
        executors = executors or {"default": noop}
        async with open_runtime(location, executors=executors, **options) as rt:
            yield rt

    return factory


def new(**changes: Any) -> am.NewAutomation:
    fields: dict[str, Any] = {
        "title": "Brief",
        "prompt": "Summarise",
        "timezone": "Europe/Berlin",
        "schedule": am.Cron("0 9 * * 1-5"),
    }
    fields.update(changes)
    return am.NewAutomation(**fields)


def every(seconds: float) -> am.Interval:
    return am.Interval(every=timedelta(seconds=seconds))


async def definition_where(
    rt: Runtime, automation_id: str, check: Callable[[am.Automation], bool]
) -> am.Automation:
    """Wait until the automation, as events publish it, satisfies `check`.

    Derived fields (failure streak, session) are written right after a run ends, so a
    test waits for them instead of reading once.
    """
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                if not isinstance(event, am.DefinitionUpdated):
                    continue
                if event.automation.id == automation_id and check(event.automation):
                    return event.automation
    raise AssertionError("the event stream ended")


async def first_ended_run(rt: Runtime, automation_id: str) -> am.Run:
    """The first run of the automation that ends, as the events tell it (from seq 0)."""
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                if (
                    isinstance(event, am.RunUpdated)
                    and event.run.automation_id == automation_id
                    and event.run.state.is_terminal
                ):
                    return event.run
    raise AssertionError("the event stream ended")
