"""`GET /automation/events`: the runtime's events as Server-Sent Events.

`id:` is the journal sequence number, so a client that reconnects with `Last-Event-ID`
(or `?since=`) gets exactly what it missed: `Runtime.events(since)` reads it back from
the journal, then goes live, with no gap and no duplicate at the seam.

Nothing here grows with a slow client: the runtime's subscription is bounded and falls
back to the journal when it lags, and a client that does not take a write within
`send_timeout` seconds is dropped (it reconnects with `Last-Event-ID`). A plain ASGI
app, not a streaming response, so that the stream, the keep-alive and the watch for
a disconnect share one task group and end together on both backends.
"""

from __future__ import annotations

import math

import anyio
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ..api import Runtime
from ..model import AutomationError, Event, ValidationError, to_json
from ._errors import error_response

__all__ = ["EventsEndpoint", "frame"]

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_NAMES = {
    "DefinitionUpdated": b"automation.definition.updated",
    "DefinitionDeleted": b"automation.definition.deleted",
    "RunUpdated": b"automation.run.updated",
}


def frame(event: Event) -> bytes:
    """One SSE message; the data is the event's wire JSON (one line: JSON escapes
    newlines inside strings)."""
    name = _NAMES[type(event).__name__]
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, name, to_json(event))


def _since(request: Request) -> int | None:
    """`Last-Event-ID` (a reconnect) over `?since=`; None when neither is given."""
    for field, value in (
        ("Last-Event-ID", request.headers.get("last-event-id")),
        ("since", request.query_params.get("since")),
    ):
        if value is not None:
            if not value.isascii() or not value.isdigit():
                raise ValidationError([(field, "expected_sequence_number")])
            return int(value)
    return None


class EventsEndpoint:
    """The ASGI app of the event stream."""

    def __init__(self, runtime: Runtime, *, keepalive: float, send_timeout: float) -> None:
        self._runtime = runtime
        self._keepalive = keepalive
        self._send_timeout = send_timeout
        self._open: set[anyio.CancelScope] = set()

    def close_all(self) -> None:
        """End every open stream (the server is stopping): each ends its response
        cleanly rather than being cut, and its client reconnects with `Last-Event-ID`."""
        for scope in self._open:
            scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            since = _since(request)
            if since is None:  # no history asked for: from now on
                since = await self._runtime.last_event_seq()
        except AutomationError as error:
            await error_response(error)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        stream = _Stream(send, self._send_timeout)
        gone = anyio.Event()
        async with anyio.create_task_group() as tg:
            self._open.add(tg.cancel_scope)
            try:
                tg.start_soon(_until_disconnect, receive, tg.cancel_scope, gone)
                tg.start_soon(self._keep_alive, stream, tg.cancel_scope, gone)
                try:
                    await stream.write(b"retry: 1000\n: connected\n\n")
                    async with self._runtime.events(since) as events:
                        async for event in events:
                            await stream.write(frame(event))
                except _Dropped:
                    gone.set()
                tg.cancel_scope.cancel()
            finally:
                self._open.discard(tg.cancel_scope)
        if not gone.is_set():  # closed by the server: end the body properly
            with anyio.move_on_after(self._send_timeout):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _keep_alive(
        self, stream: _Stream, scope: anyio.CancelScope, gone: anyio.Event
    ) -> None:
        """A comment when nothing else was written for `keepalive` seconds, so proxies
        and clients keep an idle stream open and a gone client is noticed."""
        while True:
            await anyio.sleep(self._keepalive)
            if anyio.current_time() - stream.last_write >= self._keepalive:
                try:
                    await stream.write(b": keep-alive\n\n")
                except _Dropped:
                    gone.set()
                    scope.cancel()
                    return


class _Dropped(Exception):
    """The client did not take a write in time (or is gone): end the response."""


class _Stream:
    """The response body, one writer at a time, each write bounded in time."""

    def __init__(self, send: Send, timeout: float) -> None:
        self._send = send
        self._timeout = timeout
        self._lock = anyio.Lock()
        self.last_write = -math.inf

    async def write(self, data: bytes) -> None:
        async with self._lock:
            with anyio.move_on_after(self._timeout) as timer:
                try:
                    await self._send(
                        {"type": "http.response.body", "body": data, "more_body": True}
                    )
                except OSError:  # the connection is gone
                    raise _Dropped from None
            if timer.cancelled_caught:
                raise _Dropped
            self.last_write = anyio.current_time()


async def _until_disconnect(receive: Receive, scope: anyio.CancelScope, gone: anyio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()
    scope.cancel()
