"""Every async test runs on both backends, asyncio and trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


from .pg import pg_cluster, pg_dsn  # noqa: E402, F401  (fixtures of every PostgreSQL test)
