"""The `store` fixture: every conformance test runs once per store implementation.

The tests see a `StorePort` and nothing else (no SQL, no file, no driver), so a second
store passes the same suite. To add one, write a factory that opens it for one test
(a `pytest.FixtureRequest` in, an async context manager of a fresh, empty store out)
and add it to `STORE_FACTORIES`, one line:

    pytest.param(postgresql_store, id="postgresql"),

A factory may take any fixture it needs with `request.getfixturevalue(...)`, or skip
the test (`pytest.skip`) when its server is not at hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from automations.persistence import StorePort, open_store

StoreFactory = Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[StorePort]]


def sqlite_store(request: pytest.FixtureRequest) -> AbstractAsyncContextManager[StorePort]:
    """SQLite on a file of the test's own temporary directory."""
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return open_store(tmp_path / "automations.db")


def postgresql_store(request: pytest.FixtureRequest) -> AbstractAsyncContextManager[StorePort]:
    """PostgreSQL in a fresh schema of the session's server (`tests/pg.py`); skipped,
    saying why, where there is no PostgreSQL."""
    dsn: str = request.getfixturevalue("pg_dsn")
    return open_store(dsn)


STORE_FACTORIES = [
    pytest.param(sqlite_store, id="sqlite"),
    pytest.param(postgresql_store, id="postgresql"),
]


@pytest.fixture(params=STORE_FACTORIES)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StorePort]:
    """A fresh, empty store, closed when the test ends."""
    factory: StoreFactory = request.param
    async with factory(request) as opened:
        yield opened
