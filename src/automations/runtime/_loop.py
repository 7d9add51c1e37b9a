"""Calling into the event loop from another thread without waiting for it.

anyio's `from_thread.run_sync` blocks the calling thread until the loop has run the
function; a writer thread that commits for many waiters must not wait on the loop,
so this uses the backends' own thread-safe "call soon" (asyncio and trio).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

from anyio.lowlevel import current_token

try:
    import sniffio
except ImportError:  # pragma: no cover - anyio then asks asyncio for the running loop
    sniffio = None  # type: ignore[assignment]

__all__ = ["LoopCaller"]


class LoopCaller:
    """Schedules `function(*args)` on the event loop that created it, from any thread.

    The function may use anyio (start a task, say): on asyncio it runs in a context
    that names the backend, as anyio's own calls from threads do, because outside a
    task sniffio cannot tell. On trio, sniffio knows the backend on the loop's thread.
    """

    def __init__(self) -> None:
        native: Any = current_token().native_token
        call_soon = getattr(native, "call_soon_threadsafe", None)  # asyncio's loop
        if call_soon is None:
            call_soon = native.run_sync_soon  # trio's TrioToken
            self._call_soon_here: Callable[..., object] = call_soon
        else:
            self._call_soon_here = native.call_soon  # no wake-up through the self-pipe
            context = contextvars.Context()
            if sniffio is not None:
                context.run(sniffio.current_async_library_cvar.set, "asyncio")
            call_soon = functools.partial(call_soon, context=context)
        self._call_soon: Callable[..., object] = call_soon

    def call_soon_here(self, function: Callable[..., object], *args: object) -> None:
        """From the loop's own thread: schedule the call after the callbacks already
        due, that is once the loop's current round is done."""
        self._call_soon_here(function, *args)

    def call_soon(self, function: Callable[..., object], *args: object) -> bool:
        """Schedule the call; False when the loop has already finished."""
        try:
            self._call_soon(function, *args)
        except RuntimeError:  # asyncio: loop closed; trio: RunFinishedError
            return False
        return True
