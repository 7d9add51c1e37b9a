"""Exception groups at the edge of the library.

Task groups wrap whatever escapes them in an `ExceptionGroup`, even a single error
raised by the caller's own code inside `async with open_runtime(...)`. A caller
should get back the exception it raised, so the context managers that own task
groups unwrap a group that holds just one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["single_error", "unwrapping_groups"]


def single_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception in a (possibly nested) group, or None if it holds several."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop()
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            leaves.append(error)
        if len(leaves) > 1:
            return None
    return leaves[0] if leaves else None


@asynccontextmanager
async def unwrapping_groups() -> AsyncIterator[None]:
    """Re-raise a group holding one exception as that exception."""
    try:
        yield
    except BaseExceptionGroup as group:
        error = single_error(group)
        if error is None:
            raise
        raise error from error.__cause__
