"""Every async test runs on both backends, asyncio and trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


from .pg import pg_cluster, pg_dsn  # noqa: E402, F401  (fixtures of every PostgreSQL test)

# Tests that measure real time across processes (kills, freezes, fail-over, terminals,
# a browser) run one after another on one pytest-xdist worker, so that two of them never
# share the machine's cores; everything else is spread over the workers (`-n 2`).
REAL_TIME = (
    "tests/crash/",
    "tests/reliability/",
    "tests/benchmarks/",
    "tests/cli/test_prompts.py",
    "tests/cli/test_graceful_restart.py",
    "tests/http/test_console_browser.py",
    "tests/persistence/postgresql/test_postgresql_store.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix()
        if where.startswith(REAL_TIME):
            item.add_marker(pytest.mark.xdist_group("real_time"))
