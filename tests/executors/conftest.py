"""The integration fixtures (a real runtime on a real store, both stores), for
executor tests."""

from ..integration.conftest import (
    clock,
    db,
    location,
    pytest_configure,
    pytest_generate_tests,
    runtime_factory,
)

__all__ = [
    "clock",
    "db",
    "location",
    "pytest_configure",
    "pytest_generate_tests",
    "runtime_factory",
]
