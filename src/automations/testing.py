"""Tools for testing code that embeds automations: a clock you move by hand."""

from .runtime import ManualClock

__all__ = ["ManualClock"]
