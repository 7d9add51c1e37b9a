"""Serving an app with Hypercorn on whichever backend runs: asyncio or trio.

`serve_http` runs until cancelled, so `automations serve` starts it as one more task
of its task group and stops it with the runtime.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import anyio
from hypercorn.config import Config
from starlette.types import ASGIApp

from ._app import close_streams
from ._auth import BindRefused

__all__ = ["serve_http"]

GRACE = 1.0
"""Seconds open requests (event streams, mostly) get to finish on shutdown."""


def _config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = GRACE
    config.keep_alive_timeout = 30
    return config


async def serve_http(app: ASGIApp, host: str, port: int) -> None:
    """Serve `app` on `host:port` until cancelled; `BindRefused` when it cannot listen.

    Hypercorn is not cancelled in the middle of its work (its asyncio server does not
    survive that cleanly): a cancellation sets its shutdown trigger instead, and its
    open requests get `GRACE` seconds, with a hard stop a little later.
    """
    config = _config(host, port)
    _check_free(host, port)
    stop = anyio.Event()
    hard = anyio.CancelScope(shield=True)

    async def stop_when_cancelled() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            close_streams(app)
            stop.set()
            hard.deadline = anyio.current_time() + GRACE + 2

    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_when_cancelled)
        with hard:
            try:
                await _hypercorn(app, config, stop.wait)
            except OSError as error:
                message = f"cannot listen on {host}:{port}: {error.strerror or error}"
                raise BindRefused(message) from None
        tg.cancel_scope.cancel()


async def _hypercorn(app: ASGIApp, config: Config, trigger: Callable[[], Awaitable[None]]) -> None:
    if _on_trio():
        from hypercorn.trio import serve as trio_serve

        await trio_serve(app, config, shutdown_trigger=trigger)  # type: ignore[arg-type]
    else:
        from hypercorn.asyncio import serve as asyncio_serve

        await asyncio_serve(app, config, shutdown_trigger=trigger)  # type: ignore[arg-type]


def _check_free(host: str, port: int) -> None:
    """`BindRefused` now if the address cannot be bound: Hypercorn would fail there
    from inside its own task groups, after its lifespan task started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise BindRefused(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _on_trio() -> bool:
    """Whether this task runs under trio (sniffio comes only with trio)."""
    try:
        import trio.lowlevel
    except ImportError:
        return False
    return trio.lowlevel.in_trio_run()
