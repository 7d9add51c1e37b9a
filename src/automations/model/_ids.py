"""Sortable identifiers: a prefix, then 48 bits of milliseconds and 80 random bits.

Crockford base32 keeps them URL- and shell-safe; within one process they are strictly
increasing even inside one millisecond, so `ORDER BY id` is creation order.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_automation_id", "new_blocker_id", "new_id", "new_run_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last = 0


def _next_value() -> int:
    global _last
    stamp = time.time_ns() // 1_000_000
    candidate = (stamp << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    return candidate


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    return f"{prefix}{_encode(_next_value())}"


def new_automation_id() -> str:
    return new_id("automation_")


def new_run_id() -> str:
    return new_id("automation_run_")


def new_blocker_id() -> str:
    return new_id("blocker_")
