"""File locks beside the database: the scheduler lease and each process's liveness.

An exclusive `flock` is held by an open file description, and the kernel releases it
the instant the holding process dies, however it dies. That is what makes fail-over
fast and reconciliation safe: a lock that can be taken belongs to nobody alive.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil

__all__ = ["FileLock", "lease_lock_path", "liveness_lock_path", "remove_database"]


class FileLock:
    """A non-blocking exclusive lock on one file (created with mode 0600)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never blocks. Creates its folder (0700)."""
        if self._fd is not None:
            return True
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held_elsewhere(self) -> bool:
        """Whether another holder has the lock now (a probe: taken and let go at once)."""
        if self._fd is not None:
            return False
        if not self.try_acquire():
            return True
        self.release()
        return False

    def release(self, *, remove: bool = False) -> None:
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def lease_lock_path(database: str, lease: str) -> str:
    """Where the holder of the lease named `lease` holds its lock (one file per lease)."""
    digest = hashlib.sha256(lease.encode()).hexdigest()[:32]
    return os.path.join(f"{database}-leases", f"{digest}.lock")


def liveness_lock_path(database: str, owner: str) -> str:
    """Where the process `owner` holds its liveness lock."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", owner)
    return os.path.join(f"{database}-owners", f"{safe}.lock")


def remove_database(database: str) -> None:
    """Remove a database file and every companion of it (WAL, locks), if there."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(database + suffix)
    for suffix in ("-leases", "-owners"):
        shutil.rmtree(database + suffix, ignore_errors=True)
