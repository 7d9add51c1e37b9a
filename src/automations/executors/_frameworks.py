"""What the agent-framework executors share: a clear error when a framework's extra is
not installed, and when a framework that runs only on asyncio is used on trio."""

from __future__ import annotations

import asyncio

from ..model import AutomationError

__all__ = ["FrameworkMissing", "NeedsAsyncio", "missing", "require_asyncio"]


class FrameworkMissing(AutomationError, ImportError):
    """An executor module was imported without its framework's extra installed."""


class NeedsAsyncio(AutomationError):
    """A framework that runs only on asyncio was called in a runtime on trio."""


def missing(module: str, framework: str, extra: str) -> FrameworkMissing:
    """The error `module` raises when `framework` cannot be imported."""
    return FrameworkMissing(
        f"{module} needs {framework}: install it with pip install 'automations[{extra}]'"
    )


def require_asyncio(framework: str) -> None:
    """Raise `NeedsAsyncio` at once unless the caller runs on an asyncio loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise NeedsAsyncio(
            f"{framework} runs only on asyncio; open the runtime on asyncio "
            "(anyio.run(..., backend='asyncio')) to use this executor"
        ) from None
