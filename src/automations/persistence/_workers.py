"""The workers' heartbeat rows: how the processes of a fleet see each other.

Each worker process writes its row (`Heartbeat`) now and then, and deletes it when it
closes (`Depart`). A row whose expiry passed is of a worker that died, froze or was
cut off: it is not listed, and the next heartbeat of any worker forgets it. Liveness
proper stays with the process locks (`StorePort.liveness_lock`); the row is what a
person, or the balancing of leases, reads of a worker: its capacity, its load and the
scopes it leads.
"""

from __future__ import annotations

from ..model import Worker
from ._operations import Operation

__all__ = ["Depart", "Heartbeat"]


class Heartbeat(Operation[None], frozen=True, gc=False):
    """Record or refresh `worker`'s row; forget the rows that expired before its
    heartbeat (their workers are gone)."""

    worker: Worker


class Depart(Operation[None], frozen=True, gc=False):
    """Delete the row of a worker that closes (nothing if there is none)."""

    worker_id: str
