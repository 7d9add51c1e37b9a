"""`open_runtime()`: the store and the actors of one scope, handed out as a `Runtime`
(`_facade.py`) for the length of an `async with`."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio

from ._facade import Runtime, check_retention
from .actors import DEFAULT_MAX_SCHEDULED_RUNS, EventHub, Executor, Role, Services, open_supervisor
from .model import Catalog, Scope, ValidationError
from .persistence import Durability, open_store
from .runtime import Clock, SystemClock, unwrapping_groups
from .schedules import DEFAULT_MIN_INTERVAL

__all__ = ["Runtime", "open_runtime"]


def _owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def open_runtime(
    path: str | os.PathLike[str] = "automations.db",
    *,
    executors: Mapping[str, Executor] | None = None,
    project: str = "default",
    directory: str | None = None,
    clock: Clock | None = None,
    durability: Durability = "full",
    min_interval: timedelta = DEFAULT_MIN_INTERVAL,
    catalog: Catalog | None = None,
    cancel_grace: float = 5.0,
    role: Role = "worker",
    retention: timedelta | None = None,
    max_scheduled_runs: int | None = DEFAULT_MAX_SCHEDULED_RUNS,
    read_only: bool = False,
) -> AsyncIterator[Runtime]:
    """Open the database at `path` and run a runtime on it until the block exits.

    `project` and `directory` scope everything this runtime sees. A `"worker"`
    executes runs and competes for the scope's scheduler lease; a `"client"` (a
    command line, say) never executes: its run-now and cancel go to the workers
    through the database. On exit every run still active is stopped with a recorded
    reason and no task is left behind. With a `retention`, the scope's lease holder
    forgets runs that ended longer ago than that (see `Runtime.prune`); by default
    the ledger keeps everything. At most `max_scheduled_runs` runs fired by the
    schedule go on at once in this process (None: no bound); further due slots wait
    their turn, and one that waits past its catch-up window is recorded missed.

    `read_only=True` (a client only) opens an existing database without writing,
    locking or creating anything beside it, so a read-only directory or a backup can
    be inspected; its reads, `wait` and `events` work, everything else raises
    `StorageError`, and a missing database is a `StorageError` ("no database at ...").
    """
    if role not in ("worker", "client"):
        raise ValidationError([("role", "role_must_be_worker_or_client")])
    if read_only and role != "client":
        raise ValidationError([("read_only", "read_only_needs_role_client")])
    if retention is not None:
        check_retention("retention", retention)
    if max_scheduled_runs is not None and (
        isinstance(max_scheduled_runs, bool)
        or not isinstance(max_scheduled_runs, int)
        or max_scheduled_runs < 1
    ):
        raise ValidationError([("max_scheduled_runs", "must_be_positive_int_or_none")])
    if directory is None:
        directory = await anyio.to_thread.run_sync(os.getcwd)
    scope = Scope(project, directory)
    owner = _owner()
    async with (
        unwrapping_groups(),
        open_store(path, durability=durability, read_only=read_only) as store,
        store.hold_liveness(owner),
    ):
        hub = EventHub()
        store.add_commit_listener(hub.on_commit)
        services = Services(
            store=store,
            clock=clock or SystemClock(),
            scope=scope,
            owner=owner,
            executors=dict(executors or {}),
            hub=hub,
            cancel_grace=cancel_grace,
            min_interval=min_interval,
            catalog=catalog,
            role=role,
            retention=retention,
            max_scheduled_runs=max_scheduled_runs,
        )
        async with open_supervisor(services, grace=cancel_grace) as supervisor:
            yield Runtime(services, supervisor)
