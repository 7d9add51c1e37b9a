"""The crash tests run on both stores: workers are separate processes on one SQLite
file, or on one PostgreSQL schema (`tests/pg.py`, skipped where there is none)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database every process of the test opens: a file, or a PostgreSQL URL."""
    if request.param == "postgresql":
        dsn: str = request.getfixturevalue("pg_dsn")
        return dsn
    return str(tmp_path / "automations.db")
