"""Fixtures shared by the persistence tests."""

from __future__ import annotations

from collections.abc import Iterator

import apsw
import pytest

from automations.persistence.sqlite._schema import inspect, migrate


@pytest.fixture
def connection() -> Iterator[apsw.Connection]:
    """A migrated database in memory, for operations applied without a writer."""
    connection = apsw.Connection(":memory:")
    migrate(connection, inspect(connection, ":memory:"))
    yield connection
    connection.close()
