"""Rebuilding the projections from the journal, and reading them for comparison."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from ._projection import apply_entry, journal_entries

__all__ = ["Replay", "projection_rows"]

_PROJECTIONS = ("automations", "runs")


@dataclass(frozen=True, slots=True)
class Replay:
    """Throw the projections away and rebuild them from every journal entry, in order."""

    def apply(self, connection: apsw.Connection) -> int:
        for table in _PROJECTIONS:
            connection.execute(f"DELETE FROM {table}")
        count = 0
        for entry in journal_entries(connection):
            apply_entry(connection, entry)
            count += 1
        return count


def projection_rows(connection: apsw.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row, in a stable order, to compare two states exactly."""
    return {
        table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        for table in _PROJECTIONS
    }
