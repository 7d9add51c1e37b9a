"""Calling into the event loop from another thread without waiting for it.

anyio's `from_thread.run_sync` blocks the calling thread until the loop has run the
function; a writer thread that commits for many waiters must not wait on the loop,
so this uses the backends' own thread-safe "call soon" (asyncio and trio).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anyio.lowlevel import current_token

__all__ = ["LoopCaller"]


class LoopCaller:
    """Schedules `function(*args)` on the event loop that created it, from any thread."""

    def __init__(self) -> None:
        native: Any = current_token().native_token
        call_soon = getattr(native, "call_soon_threadsafe", None)  # asyncio's loop
        if call_soon is None:
            call_soon = native.run_sync_soon  # trio's TrioToken
        self._call_soon: Callable[..., object] = call_soon

    def call_soon(self, function: Callable[..., object], *args: object) -> bool:
        """Schedule the call; False when the loop has already finished."""
        try:
            self._call_soon(function, *args)
        except RuntimeError:  # asyncio: loop closed; trio: RunFinishedError
            return False
        return True
