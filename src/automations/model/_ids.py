"""Sortable identifiers: a prefix, then 48 bits of milliseconds and 80 random bits.

Crockford base32 keeps them URL- and shell-safe; within one process they are strictly
increasing even inside one millisecond, so `ORDER BY id` is creation order. Ids are
unique, not secret: the random part comes from a PRNG seeded from the OS once, which
costs a fraction of a system call per id.
"""

from __future__ import annotations

import os
import random
import threading
import time

__all__ = ["new_automation_id", "new_blocker_id", "new_id", "new_run_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last = 0
_random = random.Random(os.urandom(32))


def _reseed() -> None:
    _random.seed(os.urandom(32))


os.register_at_fork(after_in_child=_reseed)


def _next_value() -> int:
    global _last
    stamp = time.time_ns() // 1_000_000
    with _lock:
        candidate = (stamp << _RANDOM_BITS) | _random.getrandbits(_RANDOM_BITS)
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    return candidate


_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)  # 10 bits per lookup
_SHIFTS = tuple(range(120, -1, -10))


def _encode(value: int) -> str:
    """26 Crockford characters, most significant first, so text order is number order."""
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def new_id(prefix: str) -> str:
    return f"{prefix}{_encode(_next_value())}"


def new_automation_id() -> str:
    return new_id("automation_")


def new_run_id() -> str:
    return new_id("automation_run_")


def new_blocker_id() -> str:
    return new_id("blocker_")
