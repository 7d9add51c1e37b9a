"""The integration fixtures (a real runtime on a real file), for reliability tests."""

from ..integration.conftest import clock, db, runtime_factory

__all__ = ["clock", "db", "runtime_factory"]
