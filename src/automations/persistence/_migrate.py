"""Moving house: copy a store into another one (`automations migrate`), any store to
any store, verified.

The source is opened read-only and must be quiet: a worker leading one of its scopes,
or executing a run, would go on writing there after the copy, so the copy refuses to
start (stop the workers first, then start them on the target). The target must be
empty. The journal is copied in pages, then replayed on the target, and every copied
table of the target must then equal the source's, row for row (compared by digest,
a page at a time), or the copy fails saying where they differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import msgspec

from ..model import StorageError
from ._health import StoreHealth
from ._open import diagnose_store, display_location, open_store
from ._port import StorePort
from ._transfer import SIDE_TABLES, Digest, Exportable, Importable, ImportJournal, ImportRows

__all__ = ["Copied", "copy_store"]

Progress = Callable[[int, int], None]
"""Told (journal entries copied up to this sequence number, the source's last one)."""


class Copied(msgspec.Struct, frozen=True, kw_only=True):
    """What a copy did."""

    source: str
    target: str
    entries: int
    """Journal entries copied (and replayed on the target)."""
    rows: dict[str, int]
    """Rows of every table compared after the replay, by table."""


async def copy_store(
    source: str, target: str, *, batch: int = 1_000, progress: Progress | None = None
) -> Copied:
    """Copy the store at `source` into the empty store at `target` (created when it
    is a file that is not there); `StorageError` saying why when it cannot."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    health = await anyio.to_thread.run_sync(
        lambda: diagnose_store(source, overdue_before_ms=0, limit=1_000)
    )
    _refuse_unless_quiet(health)
    landing = await anyio.to_thread.run_sync(
        lambda: diagnose_store(target, overdue_before_ms=0, limit=1_000)
    )
    if landing.readable and any(lease.holder_alive for lease in landing.leases):
        raise StorageError(
            f"a worker already runs on {display_location(landing.location)}; stop it "
            "until the copy is done (it would work on half a store), then start it again"
        )
    async with open_store(source, read_only=True) as src, open_store(target) as dst:
        exporter, importer = _exportable(src), _importable(dst)
        # The journal's head, not its last entry: a journal pruned to nothing has
        # still handed out numbers that followers of it have seen.
        present = await importer.journal_head()
        if present:
            raise StorageError(
                f"{dst.location} has a journal already (its numbers reach {present}); "
                "nothing was written. Migrate into an empty database (or an empty schema)."
            )
        last = await src.reader.last_seq()
        entries = after = 0
        while journal := await src.reader.all_journal(after, batch):
            entries += await dst.write(ImportJournal(tuple(journal)))
            after = journal[-1].seq
            if progress is not None:
                progress(after, last)
        await dst.write(ImportJournal((), head=await exporter.journal_head()))
        for table in SIDE_TABLES:
            key = SIDE_TABLES[table][0]
            start: tuple[Any, ...] | None = None
            while rows := await exporter.side_rows(table, start, batch):
                await dst.write(ImportRows(table, tuple(rows)))
                start = tuple(rows[-1][: len(key)])
        await importer.replay()
        expected, found = await exporter.digest(), await importer.digest()
        _check_equal(expected, found, dst.location)
        return Copied(source=src.location, target=dst.location, entries=entries, rows=found.counts)


def _refuse_unless_quiet(health: StoreHealth) -> None:
    where = display_location(health.location)
    if not health.readable:
        problems = "; ".join(c.detail for c in health.checks if c.severity == "error")
        raise StorageError(
            f"cannot copy {where}: {problems or 'it cannot be read'}. See `automations doctor`."
        )
    for lease in health.leases:
        if lease.holder_alive:
            raise StorageError(
                f"a worker ({lease.holder}) leads project {lease.scope.project!r} of {where}; "
                "stop every worker of the source first (what they write during the copy "
                "would not reach the target), then start them on the target"
            )
    for run in health.active_runs:
        if run.owner_alive:
            raise StorageError(
                f"process {run.owner} is executing run {run.run_id} of {where}; stop every "
                "worker of the source first, then start them on the target"
            )


def _exportable(store: StorePort) -> Exportable:
    if not isinstance(store, Exportable):
        raise StorageError(f"the store at {store.location} cannot be copied from")
    return store


def _importable(store: StorePort) -> Importable:
    if not isinstance(store, Importable):
        raise StorageError(f"the store at {store.location} cannot be copied into")
    return store


def _check_equal(expected: Digest, found: Digest, target: str) -> None:
    differ = [
        f"{table} (source {count} rows, target {found.counts.get(table, 0)})"
        for table, count in expected.counts.items()
        if count != found.counts.get(table) or expected.hashes[table] != found.hashes.get(table)
    ]
    if differ:
        raise StorageError(
            f"the copy in {target} differs from its source after the replay in "
            f"{', '.join(differ)}; the target is left as it is for a look: empty it "
            "before you retry, and report the difference"
        )
