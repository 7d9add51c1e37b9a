"""`automations workers`: the live worker processes of the database, and their load."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.table import Table

from ..api import Runtime
from ..model import Worker
from ._render import Output, relative
from ._text import printable

__all__ = ["workers", "workers_table"]


async def workers(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    found = await rt.workers()
    if out.json:
        out.value(list(found))
    elif not found:
        out.say("no worker is running on this database; start one with: automations serve")
    else:
        out.console.print(workers_table(found, datetime.now(UTC)))
    return 0


def workers_table(found: Sequence[Worker], now: datetime) -> Table:
    """One line per worker: where it runs, since when, its load and what it leads."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("WORKER", no_wrap=True)
    for column in ("HOST", "PID", "STARTED", "RUNNING", "HEARTBEAT", "LEADS"):
        table.add_column(column, overflow="fold")
    for worker in found:
        capacity = "no bound" if worker.capacity is None else str(worker.capacity)
        leads = "\n".join(
            f"{printable(scope.project)} in {printable(scope.directory)}" for scope in worker.scopes
        )
        table.add_row(
            worker.id,
            printable(worker.host),
            str(worker.pid),
            relative(worker.started_at - now),
            f"{worker.running} of {capacity}",
            relative(worker.heartbeat_at - now),
            leads or "-",
        )
    return table
