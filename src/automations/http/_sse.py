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
from ..model import (
    AutomationError,
    DefinitionDeleted,
    DefinitionUpdated,
    Event,
    RunUpdated,
    ValidationError,
    to_json,
)
from ._errors import TooManyStreams, error_response

__all__ = ["EventsEndpoint", "frame"]

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_NAMES = {
    kind: str(kind.__struct_config__.tag).encode()  # the wire `type`: the SSE event name
    for kind in (DefinitionUpdated, DefinitionDeleted, RunUpdated)
}


MAX_STREAMS = 1_000
"""Event streams open at once; one more is 503 (and its EventSource retries)."""
_FRAMES_KEPT = 4096
_MAX_DIGITS = 18
"""A sequence number is a SQLite integer: below 2**63, so at most 18 digits here."""


def frame(event: Event) -> bytes:
    """One SSE message; the data is the event's wire JSON (one line: JSON escapes
    newlines inside strings)."""
    name = _NAMES[type(event)]
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, name, to_json(event))


def _since(request: Request) -> int | None:
    """`Last-Event-ID` (a reconnect) over `?since=`; None when neither is given."""
    for field, value in (
        ("Last-Event-ID", request.headers.get("last-event-id")),
        ("since", request.query_params.get("since")),
    ):
        if value is not None:
            if not value.isascii() or not value.isdigit() or len(value) > _MAX_DIGITS:
                raise ValidationError([(field, "expected_sequence_number")])
            return int(value)
    return None


class EventsEndpoint:
    """The ASGI app of the event stream."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        keepalive: float,
        send_timeout: float,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        self._runtime = runtime
        self._keepalive = keepalive
        self._send_timeout = send_timeout
        self._max_streams = max_streams
        self._open: set[anyio.CancelScope] = set()
        self._frames: dict[int, bytes] = {}
        """Recent frames by sequence number: every open stream sends the same event,
        encoded once."""

    def _frame(self, event: Event) -> bytes:
        data = self._frames.get(event.seq)
        if data is None:
            if len(self._frames) >= _FRAMES_KEPT:
                self._frames.clear()
            data = self._frames[event.seq] = frame(event)
        return data

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
            if len(self._open) >= self._max_streams:
                raise TooManyStreams(f"{self._max_streams} event streams are open already")
        except AutomationError as error:
            await error_response(error)(scope, receive, send)
            return
        stopping = anyio.CancelScope()  # what `close_all` cancels
        self._open.add(stopping)  # counted from here: no await between check and count
        stream = _Stream(send, self._send_timeout)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            with stopping:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_until_disconnect, receive, tg.cancel_scope, stream)
                    tg.start_soon(stream.write_out, tg.cancel_scope)
                    tg.start_soon(self._keep_alive, stream)
                    await stream.put(b"retry: 1000\n: connected\n\n")
                    try:
                        async with self._runtime.events(since) as events:
                            async for event in events:
                                await stream.put(self._frame(event))
                    except AutomationError:  # the runtime closes, or its store failed:
                        pass  # end the response; the client comes back with Last-Event-ID
                    tg.cancel_scope.cancel()
        finally:
            self._open.discard(stopping)
        if not stream.gone:  # closed by the server: end the body properly
            with anyio.move_on_after(self._send_timeout):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _keep_alive(self, stream: _Stream) -> None:
        """A comment when nothing else was written for `keepalive` seconds, so proxies
        and clients keep an idle stream open and a gone client is noticed."""
        while True:
            await anyio.sleep(self._keepalive)
            if anyio.current_time() - stream.last_write >= self._keepalive:
                await stream.put(b": keep-alive\n\n")


MAX_PENDING = 256 * 1024
"""Bytes of frames a stream holds while its write is in flight; beyond them the
events wait in the runtime's bounded subscription, then in the journal."""


class _Stream:
    """The response body. Frames queue up (at most `MAX_PENDING` bytes) while a write
    is in flight and go out together in the next one: one socket write for a burst of
    events rather than one each, and no added delay when the stream is idle."""

    def __init__(self, send: Send, timeout: float) -> None:
        self._send = send
        self._timeout = timeout
        self._pending = bytearray()
        self._ready = anyio.Event()
        self._room = anyio.Event()
        self.last_write = -math.inf
        self.gone = False
        """The client went away, or took no write for `timeout` seconds."""

    async def put(self, data: bytes) -> None:
        while len(self._pending) >= MAX_PENDING:
            self._room = anyio.Event()
            await self._room.wait()
        self._pending += data
        self._ready.set()

    async def write_out(self, scope: anyio.CancelScope) -> None:
        """Write what is pending, as it comes; end the response (`scope`) when the
        client does not take a write in time."""
        while True:
            await self._ready.wait()
            self._ready = anyio.Event()
            data = bytes(self._pending)
            self._pending.clear()
            self._room.set()
            message = {"type": "http.response.body", "body": data, "more_body": True}
            with anyio.move_on_after(self._timeout) as timer:
                try:
                    await self._send(message)
                except OSError:  # the connection is gone
                    timer.cancel()
            if timer.cancel_called:
                self.gone = True
                scope.cancel()
                return
            self.last_write = anyio.current_time()


async def _until_disconnect(receive: Receive, scope: anyio.CancelScope, stream: _Stream) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    stream.gone = True
    scope.cancel()
