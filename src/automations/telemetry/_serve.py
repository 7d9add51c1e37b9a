"""`serve --metrics HOST:PORT`: the metrics on a port of their own, without the HTTP
extra, served by `prometheus-client`'s own server in a thread of its own."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from wsgiref.simple_server import WSGIServer

import anyio
from prometheus_client import start_http_server

from ..model import ValidationError
from ._metrics import Metrics

__all__ = ["parse_metrics_bind", "serve_metrics"]


def parse_metrics_bind(bind: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:9464` for IPv6) as a host and a port."""
    host, _, port = bind.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValidationError(
            [("--metrics", f"expected HOST:PORT such as 127.0.0.1:9464, got {bind!r}")]
        )
    return host, int(port)


@asynccontextmanager
async def serve_metrics(metrics: Metrics, host: str, port: int) -> AsyncIterator[tuple[str, int]]:
    """Serve `metrics` at `http://host:port/metrics` while the block runs; yields the
    address bound (port 0 picks a free one)."""
    start = partial(start_http_server, port, host, metrics.registry)
    try:
        server, thread = await anyio.to_thread.run_sync(start)
    except OSError as exc:  # the port is taken, the address is not this host's
        raise ValidationError(
            [("--metrics", f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another")]
        ) from None
    try:
        address = server.server_address
        yield str(address[0]), int(address[1])
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_stop, server, thread)


def _stop(server: WSGIServer, thread: threading.Thread) -> None:
    server.shutdown()  # returns once its loop stopped
    server.server_close()
    thread.join()
