"""A worker's presence in the fleet: its heartbeat row, and the list of live workers.

Each worker process writes a row of itself (`Heartbeat`) every `HEARTBEAT_SECONDS`,
and at once when the scopes it leads change, so that a person (`automations
workers`, `GET /workers`) and, later, the balancing of leases see who is there, what
each can take and what each holds. The row expires `EXPIRY_SECONDS` after its
heartbeat (a frozen or cut-off worker drops out); a worker whose process died is
dropped at once, because its liveness lock is free. Time here is wall-clock, never
the runtime's `Clock`: this is about processes, not schedules.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
from anyio.abc import TaskStatus

from ..model import AutomationError, Scope, StorageError, Worker, from_ms
from ..persistence import Depart, Heartbeat, StorePort
from ._lease import STALE_SECONDS, holder_alive
from ._outage import Outage
from ._services import Services

__all__ = ["EXPIRY_SECONDS", "HEARTBEAT_SECONDS", "Presence", "live_workers"]

HEARTBEAT_SECONDS = 1.0
"""How often a worker refreshes its row (one small write, of no journal entry)."""
EXPIRY_SECONDS = STALE_SECONDS
"""How long a row outlives its last heartbeat: as long as a lease may go unrenewed."""

log = logging.getLogger("automations.actors")

Load = Callable[[], tuple[int, tuple[Scope, ...]]]
"""(runs executing now, scopes whose lease is held now), read on the event loop."""


def wall_now() -> datetime:
    return from_ms(int(time.time() * 1000))


class Presence:
    """Keeps this process's row: written before `run` reports started, refreshed until
    cancelled, deleted (shielded) on the way out."""

    def __init__(self, services: Services, load: Load, *, fleet: bool = False) -> None:
        self._services = services
        self._load = load
        self._fleet = fleet
        self._started_at = wall_now()
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._nudged = anyio.Event()
        self._beaten = anyio.Event()
        self.beats = 0
        """How many heartbeats are durable."""

    def worker(self) -> Worker:
        """This process as its next heartbeat records it."""
        running, scopes = self._load()
        beat = wall_now()
        return Worker(
            id=self._services.owner,
            host=self._host,
            pid=self._pid,
            started_at=self._started_at,
            heartbeat_at=beat,
            expires_at=beat + timedelta(seconds=EXPIRY_SECONDS),
            capacity=self._services.max_scheduled_runs,
            running=running,
            scopes=scopes,
            fleet=self._fleet,
        )

    async def next_beat(self, after: int | None = None) -> None:
        """Wait until a heartbeat later than the `after`-th (`beats` read before a
        look; by default, the next one) is durable: what a reader then lists is new.
        With `after`, a beat during the look is not missed."""
        target = self.beats if after is None else after
        while self.beats <= target:
            await self._beaten.wait()

    def nudge(self) -> None:
        """Beat now rather than at the next period (the scopes it leads changed)."""
        self._nudged.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        store = self._services.store
        outage = Outage("record this worker's heartbeat")
        try:
            while True:
                try:
                    await store.write(Heartbeat(self.worker()))
                    outage.succeeded()
                    self.beats += 1
                    self._beaten.set()
                    self._beaten = anyio.Event()
                except StorageError as error:
                    task_status.started()
                    task_status = anyio.TASK_STATUS_IGNORED
                    await outage.failed(error)
                    continue
                except AutomationError:  # not an outage: say so, and try next period
                    log.exception("could not record this worker's heartbeat")
                task_status.started()
                task_status = anyio.TASK_STATUS_IGNORED
                with anyio.move_on_after(HEARTBEAT_SECONDS):
                    await self._nudged.wait()
                self._nudged = anyio.Event()
        finally:
            with anyio.CancelScope(shield=True):
                await _depart(store, self._services.owner)


async def _depart(store: StorePort, owner: str) -> None:
    try:
        await store.write(Depart(owner))
    except AutomationError:  # its row expires on its own
        log.warning("could not delete the heartbeat row of %s; it expires by itself", owner)


async def live_workers(store: StorePort, at: datetime | None = None) -> list[Worker]:
    """The workers whose heartbeat has not expired and whose process lives, by id."""
    rows = await store.reader.workers(wall_now() if at is None else at)
    return [worker for worker in rows if await holder_alive(store, worker.id)]
