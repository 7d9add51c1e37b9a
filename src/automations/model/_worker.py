"""A worker process as the fleet sees it: what it last told the store of itself."""

from __future__ import annotations

import msgspec
from msgspec.structs import force_setattr

from ._automation import Scope
from ._time import Instant, normalize_time

__all__ = ["Worker"]


class Worker(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """A live worker: who it is, what it can take and what it holds, as of its last
    heartbeat. Stored as one msgpack body, so a field added later (with a default, at
    the end) needs no schema migration."""

    id: str
    """The process's owner id (the one its runs and leases carry)."""
    host: str
    pid: int
    started_at: Instant
    heartbeat_at: Instant
    """Wall-clock time of its last heartbeat (its own host's clock)."""
    expires_at: Instant
    """Past this without a new heartbeat it is taken for gone (frozen or cut off)."""
    capacity: int | None = None
    """How many scheduled runs it executes at once (None: no bound)."""
    running: int = 0
    """Runs it was executing at its last heartbeat."""
    scopes: tuple[Scope, ...] = ()
    """The scopes whose scheduler lease it held at its last heartbeat."""
    fleet: bool = False
    """A fleet worker (`open_runtime(scopes="all")`): the balancing of leases may give
    it any scope. A one-scope worker leads only its own."""

    def __post_init__(self) -> None:
        for name in ("started_at", "heartbeat_at", "expires_at"):
            value = getattr(self, name)
            if type(value) is not Instant:
                force_setattr(self, name, normalize_time(value))
