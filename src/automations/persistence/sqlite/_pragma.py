"""A PRAGMA run by the writer, in its transaction: SQLite's own knobs, for operators
and for the tests that play a full disk (`max_page_count`)."""

from __future__ import annotations

from typing import Any

import apsw

from .._operations import Operation, require

__all__ = ["Pragma", "pragma"]


class Pragma(Operation[list[tuple[Any, ...]]], frozen=True, gc=False):
    """`statement` is one `PRAGMA ...`; its rows."""

    statement: str


def pragma(connection: apsw.Connection, op: Pragma) -> list[tuple[Any, ...]]:
    require(op.statement.lstrip().upper().startswith("PRAGMA "), "a PRAGMA statement")
    return connection.execute(op.statement).fetchall()
