"""`open_runtime()`: the store and the actors of one scope, handed out as a `Runtime`
(`_facade.py`) for the length of an `async with`."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import anyio

from ._facade import Runtime, check_retention
from .actors import (
    DEFAULT_MAX_SCHEDULED_RUNS,
    EventHub,
    Executor,
    Role,
    Services,
    Supervisor,
    open_fleet,
    open_supervisor,
)
from .model import Catalog, Scope, ValidationError
from .persistence import Durability, open_store
from .runtime import Clock, SystemClock, unwrapping_groups
from .schedules import DEFAULT_MIN_INTERVAL
from .telemetry import Telemetry, TransitionLog

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from .telemetry import Metrics, Tracing

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
    metrics: Metrics | None = None,
    tracing: bool | TracerProvider | None = None,
    scopes: Literal["all"] | None = None,
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

    `metrics` (an `automations.telemetry.Metrics`) counts what this process commits,
    for Prometheus. `tracing` opens an OpenTelemetry span per executor call: True uses
    the global tracer provider, a provider uses that one, False none; by default
    (None) only when the application configured a global provider before opening the
    runtime. Every transition is logged to the `automations.runs` logger (see
    docs/operations.md).

    `scopes="all"` (a worker only) opens a fleet worker: it serves every scope of the
    database, leading the share of scopes the balancing of the live fleet workers gives
    it (docs/architecture.md, "The fleet"); the runtime it yields is a client of
    `project` and `directory`.
    """
    if role not in ("worker", "client"):
        raise ValidationError([("role", "role_must_be_worker_or_client")])
    if scopes not in (None, "all"):
        raise ValidationError([("scopes", "scopes_must_be_all_or_none")])
    if scopes == "all" and role != "worker":
        raise ValidationError([("scopes", "all_scopes_needs_role_worker")])
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
    telemetry = _telemetry(metrics, tracing)
    clock = clock or SystemClock()
    async with (
        unwrapping_groups(),
        open_store(path, durability=durability, read_only=read_only) as store,
        store.hold_liveness(owner),
    ):
        hub = EventHub()
        store.add_commit_listener(hub.on_commit)
        store.add_commit_listener(TransitionLog().on_commit)
        if telemetry is not None:
            telemetry.attach(store, clock)
        services = Services(
            store=store,
            clock=clock,
            scope=scope,
            owner=owner,
            executors=dict(executors or {}),
            hub=hub,
            cancel_grace=cancel_grace,
            min_interval=min_interval,
            catalog=catalog,
            role="client" if scopes == "all" else role,
            retention=retention,
            max_scheduled_runs=max_scheduled_runs,
            observer=telemetry,
        )
        try:
            async with (
                open_supervisor(services, grace=cancel_grace) as supervisor,
                _maybe_fleet(scopes, services, supervisor),
            ):
                runtime = Runtime(services, supervisor)
                runtime.metrics = metrics
                yield runtime
        finally:
            if telemetry is not None:
                telemetry.detach(store)


@asynccontextmanager
async def _maybe_fleet(
    scopes: Literal["all"] | None, services: Services, supervisor: Supervisor
) -> AsyncIterator[None]:
    """With `scopes="all"`, the fleet's cells beside the client `supervisor`."""
    if scopes is None:
        yield
        return
    async with open_fleet(services, supervisor.follower, services.cancel_grace) as fleet:
        supervisor.presence = fleet.presence
        yield


def _telemetry(metrics: Metrics | None, tracing: bool | TracerProvider | None) -> Telemetry | None:
    """What `open_runtime`'s `metrics` and `tracing` ask for; the OpenTelemetry API is
    imported only when tracing is asked for, or when the application imported it."""
    traces: Tracing | None = None
    if tracing is None:
        tracing = _provider_configured()
    if tracing is not False:
        try:
            from .telemetry import Tracing
        except ImportError:
            raise ValidationError(
                [("tracing", "needs the otel extra: pip install 'automations[otel]'")]
            ) from None
        traces = Tracing(None if tracing is True else tracing)
    if metrics is None and traces is None:
        return None
    return Telemetry(metrics, traces)


def _provider_configured() -> bool:
    """Whether the application set a global tracer provider (no import otherwise)."""
    if "opentelemetry.trace" not in sys.modules:
        return False
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)
