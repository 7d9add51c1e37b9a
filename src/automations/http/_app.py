"""`create_app(runtime)`: the Starlette app of the routes, the event stream, the
OpenAPI document, the health check and the console's static files.

It holds a `Runtime` and nothing else: the app is embeddable (mount it in your own
Starlette, or serve it yourself) and its lifetime is the runtime's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..api import Runtime
from ..model import AutomationError, StorageError, to_json
from ._auth import BearerAuth, SameOrigin
from ._errors import error_response, http_exception, internal_error
from ._metrics import metrics_route
from ._openapi import openapi_document
from ._routes import automation_routes
from ._sse import EventsEndpoint
from ._wire import Health, json_response

__all__ = ["STATIC", "close_streams", "create_app"]

STATIC = Path(__file__).resolve().parent / "static"
KEEPALIVE = 15.0
SEND_TIMEOUT = 10.0


def create_app(
    runtime: Runtime,
    *,
    token: str | None = None,
    cors_origins: Iterable[str] = (),
    hosts: Iterable[str] = (),
    keepalive: float = KEEPALIVE,
    send_timeout: float = SEND_TIMEOUT,
) -> Starlette:
    """The HTTP face of `runtime`.

    With a `token`, every request but the console's static files needs
    `Authorization: Bearer <token>`; without one, only a loopback `Host` (or one of
    `hosts`: "testserver" for Starlette's TestClient, say) is served.
    A change from a page of another origin (not in `cors_origins`) is refused either
    way. `cors_origins` lists the origins a browser may
    call from (none: CORS off). The event stream writes a keep-alive comment after
    `keepalive` idle seconds and drops a client that takes no write for `send_timeout`.
    """
    document = to_json(openapi_document())
    events = EventsEndpoint(runtime, keepalive=keepalive, send_timeout=send_timeout)

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def healthz(request: Request) -> Response:
        try:  # each is a read: an answer says the database answers
            leading = await runtime.leading()
            served = leading or await runtime.served()
        except StorageError:
            return json_response(Health(ok=False, database=False, leading=False, served=False), 503)
        return json_response(Health(ok=True, database=True, leading=leading, served=served))

    async def workers(request: Request) -> Response:
        try:
            return json_response(list(await runtime.workers()))
        except AutomationError as error:
            return error_response(error)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    routes: list[BaseRoute] = [
        *automation_routes(runtime, events),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/workers", workers, methods=["GET"]),
        Route("/", index, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    if runtime.metrics is not None:  # the runtime was opened with metrics=Metrics()
        routes.append(metrics_route(runtime.metrics))
    middleware: list[Middleware] = []
    origins = list(cors_origins)
    if origins:  # outermost, so a preflight needs no token
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST", "PUT", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-Timezone"],
                expose_headers=["X-Event-Seq"],
                allow_credentials=False,
            )
        )
    middleware.append(
        Middleware(SameOrigin, origins=origins, check_host=not token, hosts=list(hosts))
    )
    if token:
        middleware.append(Middleware(BearerAuth, token=token))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_exception, Exception: internal_error},
    )
    app.state.close_streams = events.close_all
    return app


def close_streams(app: object) -> None:
    """End the open event streams of an app made by `create_app` (before a server
    stops, so that it need not cut them); anything else is left alone."""
    if isinstance(app, Starlette):
        close = getattr(app.state, "close_streams", None)
        if callable(close):
            close()
