"""Shards: a fixed partition of the scopes, the unit a fleet's leases will share out.

A scope's shard is a stable hash of its lease name modulo `SHARDS`, the same in every
process and on every host (not Python's `hash`, which is salted per process). Each
automation row keeps its scope's shard (`automations.shard`), indexed with its next
fire, so one query finds what is due across the shards a worker holds. Changing
`SHARDS` means a migration that recomputes the column.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from ..model import Scope
from ._leases import lease_name

__all__ = ["SHARDS", "shard_lease_name", "shard_of"]

SHARDS = 256
"""How many shards the scopes fall into: many more than workers, so that a plan
shares them out within one of even, and few enough that a worker holds a handful of
leases, not one per scope."""


@lru_cache(maxsize=65_536)  # a fleet plans over every scope each second
def shard_of(scope: Scope) -> int:
    """The shard `scope` falls into, in `range(SHARDS)`."""
    digest = hashlib.blake2b(lease_name(scope).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % SHARDS


def shard_lease_name(shard: int) -> str:
    """The name of the lease of `shard`, which fences the writes of its scopes as a
    scope's own lease (`lease_name`) does (see `check_epoch`)."""
    return f"shard:{shard}"
