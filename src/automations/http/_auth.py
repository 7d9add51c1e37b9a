"""Who may call: loopback binds by default, a bearer token for anything else.

The token travels only in `Authorization: Bearer ...` (no cookies, so a page on
another site cannot make a browser act with it) and is compared in constant time.
The console's static files carry no data and are served without it. Without a token,
`SameOrigin` stands in for it against other sites' pages in the user's browser.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import Forbidden, HttpError, Unauthorized, error_response

__all__ = ["BearerAuth", "BindRefused", "SameOrigin", "check_bind", "is_loopback", "parse_bind"]


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


_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def _hostname(authority: str) -> str:
    """The host of a `Host` header or an origin's authority, without the port."""
    if authority.startswith("["):
        return authority[1 : authority.find("]")]
    return authority.rpartition(":")[0] if authority.count(":") == 1 else authority


class SameOrigin:
    """ASGI middleware against what a page of another site can make a browser send.

    With no token nothing else protects the API, so two checks: a change (any method
    but GET, HEAD, OPTIONS) whose `Origin` is neither this server nor one of the CORS
    origins is refused (a form or a fetch from another site, which CORS does not stop
    from being *sent*); and, without a token, a `Host` that is not a loopback name is
    refused (DNS rebinding: another site's name pointed at 127.0.0.1), unless it is one
    of `hosts`.
    """

    def __init__(
        self, app: ASGIApp, *, origins: Iterable[str], check_host: bool, hosts: Iterable[str] = ()
    ) -> None:
        self._app = app
        self._origins = frozenset(origins)
        self._check_host = check_host
        self._hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await error_response(Forbidden(refusal))(scope, receive, send)
                return
        await self._app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        host = origin = fetch_site = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"sec-fetch-site":
                fetch_site = value.decode("latin-1")
        name = _hostname(host or "")
        if self._check_host and not (is_loopback(name) or name in self._hosts):
            return "the Host is not a loopback name; use 127.0.0.1, or serve with a token"
        if scope["method"] in _SAFE:
            return None
        if origin is not None:
            if origin in self._origins or origin.partition("://")[2] == host:
                return None
            return f"a request from {origin} may not change anything here"
        if fetch_site == "cross-site":
            return "a cross-site request may not change anything here"
        return None
