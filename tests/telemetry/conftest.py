"""The integration fixtures (a real runtime on a real store, both stores), for the
telemetry tests."""

from ..integration.conftest import (
    clock,
    location,
    pytest_configure,
    pytest_generate_tests,
    runtime_factory,
)

__all__ = ["clock", "location", "pytest_configure", "pytest_generate_tests", "runtime_factory"]
