"""The live view's tables, made to fit a terminal of 80 columns: one line per row.

Ids are shortened to the start of their random part (every command accepts an id by
a unique prefix, so a short id is enough to type), columns that matter less are
left out, and long cells end with an ellipsis instead of wrapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from rich.table import Table
from rich.text import Text

from ..model import Automation, Run
from ._render import describe_schedule, outcome_text, relative, state_text, when
from ._text import printable

__all__ = [
    "SHORT_ID",
    "compact_automations",
    "compact_runs",
    "short_id",
    "short_ids",
    "shorten_ids",
]

SHORT_ID = 14
"""Characters of an id shown, at least: its 10 of time and 4 of randomness (more when
ids made in the same millisecond share them)."""

_ID = re.compile(r"\b(?:automation_run|automation)_([0-9A-HJKMNP-TV-Z]{26})\b")


def short_id(id: str) -> str:
    return id.rpartition("_")[2][:SHORT_ID]


def short_ids(ids: Iterable[str]) -> dict[str, str]:
    """Each id's shortest start (after its type, `SHORT_ID` characters at least) that
    no other of `ids` shares, so that what the view shows can be typed back."""
    tails = {id: id.rpartition("_")[2] for id in ids}
    shown: dict[str, str] = {}
    for id, tail in tails.items():
        length = SHORT_ID
        while length < len(tail) and any(
            other != id and other_tail.startswith(tail[:length])
            for other, other_tail in tails.items()
        ):
            length += 1
        shown[id] = tail[:length]
    return shown


def shorten_ids(text: str, shown: dict[str, str]) -> str:
    """`text` with each whole id in it shortened (an event line of the live view)."""
    return _ID.sub(lambda match: shown.get(match.group(0), match.group(1)[:SHORT_ID]), text)


def _table(*columns: tuple[str, int | None]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold", expand=True)
    for name, ratio in columns:
        table.add_column(name, no_wrap=True, overflow="ellipsis", ratio=ratio)
    return table


def compact_automations(
    automations: Iterable[Automation], now: datetime, shown: dict[str, str]
) -> Table:
    table = _table(("ID", None), ("TITLE", 3), ("SCHEDULE", 2), ("NEXT FIRE", 4), ("STATE", None))
    for a in automations:
        state = "paused" if a.paused else ("done" if a.next_fire_at is None else "active")
        if a.failure_streak:
            state += f", {a.failure_streak} failed"
        table.add_row(
            shown.get(a.id, short_id(a.id)),
            printable(a.title),
            describe_schedule(a),
            when(a.next_fire_at, a.timezone, now),
            state,
        )
    return table


def compact_runs(
    runs: Sequence[Run], now: datetime, titles: dict[str, str], shown: dict[str, str]
) -> Table:
    table = _table(("RUN", None), ("AUTOMATION", 3), ("WHEN", 2), ("STATE", 2), ("OUTCOME", 4))
    for run in runs:
        title = printable(titles.get(run.automation_id, short_id(run.automation_id)))
        state: Text = state_text(run)
        table.add_row(
            shown.get(run.id, short_id(run.id)),
            title,
            relative(run.triggered_at - now),
            state,
            outcome_text(run),
        )
    return table
