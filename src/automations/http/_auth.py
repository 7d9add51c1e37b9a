"""Who may call: loopback binds by default, a bearer token for anything else.

The token travels only in `Authorization: Bearer ...` (no cookies, so a page on
another site cannot make a browser act with it) and is compared in constant time.
The console's static files carry no data and are served without it.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import HttpError, Unauthorized, error_response

__all__ = ["BearerAuth", "BindRefused", "check_bind", "is_loopback", "parse_bind"]


class BindRefused(HttpError):
    """`serve` cannot listen there: a malformed address, one beyond loopback without a
    token, or one it cannot bind."""


def parse_bind(bind: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:8765`) to its parts; `BindRefused` when malformed."""
    host, sep, port = bind.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not (sep and host and port.isascii() and port.isdigit() and int(port) < 65536):
        raise BindRefused(f"--http {bind!r} should look like 127.0.0.1:8765")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`; a name that might resolve elsewhere is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(bind: str, token: str | None) -> tuple[str, int]:
    """The host and port to listen on, refusing a non-loopback bind without a token."""
    host, port = parse_bind(bind)
    if not token and not is_loopback(host):
        raise BindRefused(
            f"refusing to listen on {host} without a token: pass --token or set "
            "$AUTOMATIONS_TOKEN, or bind to 127.0.0.1"
        )
    return host, port


def _route_path(scope: Scope) -> str:
    """The path inside the app, also when it is mounted under a prefix."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class BearerAuth:
    """ASGI middleware: 401 for any request but the static files without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self._app(scope, receive, send)
            return
        response = error_response(Unauthorized("send Authorization: Bearer <token>"))
        response.headers["www-authenticate"] = "Bearer"
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        path = _route_path(scope)
        if path == "/" or path.startswith("/static/") or path == "/favicon.ico":
            return True
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    given = b""
                break
        return hmac.compare_digest(given.strip(), self._expected)
