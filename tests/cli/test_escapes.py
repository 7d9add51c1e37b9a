"""Text from the database reaches a terminal with its control characters escaped.

The title below was stored directly through the store, as an older version (which did
not check titles) would have stored it: a terminal obeying it would rename its window
and clear the screen, and its newline would break the table's row.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import anyio
import msgspec
from rich.console import Console

import automations as am
from automations.cli._compact import short_ids
from automations.cli._live import LiveView
from automations.cli._text import printable
from automations.model import Scope, from_json
from automations.persistence import SaveAutomation, open_store

from ..persistence.helpers import automation, run

EVIL = "Deploy\x1b]0;pwned\x07\x1b[2J\nnext line"
SHOWN = "Deploy\\x1b]0;pwned\\x07\\x1b[2J\\nnext line"


def _cli(db: Path, *args: str) -> str:
    env = dict(os.environ, AUTOMATIONS_DB=str(db), AUTOMATIONS_PROJECT="esc", COLUMNS="300")
    done = subprocess.run(
        [sys.executable, "-m", "automations", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=db.parent,
        timeout=60,
        check=True,
    )
    return done.stdout


async def _store_unchecked(db: Path, directory: str, automation: am.Automation) -> am.Automation:
    evil = msgspec.structs.replace(
        automation, title=EVIL, prompt=EVIL, revision=automation.revision + 1
    )
    scope = Scope("esc", directory)
    async with open_store(db) as store:
        await store.write(SaveAutomation(scope, evil, expected_revision=automation.revision))
    return evil


def test_printable_escapes_controls_and_nothing_else() -> None:
    assert printable(EVIL) == SHOWN
    shown = "\\x9b31m caf\u00e9 \\u202eabc \\x7f\\t"
    assert printable("\x9b31m caf\u00e9 \u202eabc \x7f\t") == shown


def test_a_stored_escape_sequence_is_shown_escaped_by_ls_show_and_the_live_view(
    tmp_path: Path,
) -> None:
    db = tmp_path / "automations.db"
    added = from_json(_cli(db, "add", "Deploy", "--every", "1h", "--json"), am.Automation)
    evil = anyio.run(_store_unchecked, db, os.path.realpath(tmp_path), added)

    for said in (_cli(db, "ls"), _cli(db, "show", added.id)):
        assert "\x1b" not in said and "\x07" not in said
        assert SHOWN in said
    assert _cli(db, "show", added.id).count(SHOWN) == 2  # the title and the prompt

    view = LiveView(f"serving esc in {tmp_path}")
    view.automations[evil.id] = evil
    screen = io.StringIO()
    Console(file=screen, width=300, force_terminal=True, color_system=None).print(view)
    drawn = screen.getvalue()
    assert "\x1b]" not in drawn and "\x1b[2J" not in drawn and "\x07" not in drawn
    assert SHOWN in drawn


def test_the_live_view_fits_80_columns_one_line_per_row() -> None:
    long = automation(title="A rather long title for a morning brief of the overnight alerts")
    view = LiveView("serving a-project in /a/rather/long/directory/of/someone/who/works/here")
    view.status = "standby: another worker leads; this one takes over if it stops"
    view.automations[long.id] = long
    r = run(long.id)
    view.runs[r.id] = r
    screen = io.StringIO()
    Console(file=screen, width=80, force_terminal=True, color_system=None).print(view)
    lines = screen.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    shown = short_ids([long.id, r.id])
    assert shown[long.id] != shown[r.id]  # unique, even when made in one millisecond
    (row,) = [line for line in lines if line.startswith(shown[long.id] + " ")]
    assert "A rather" in row and "…" in row  # the title is cut, not wrapped
    assert any(line.startswith(shown[r.id] + " ") for line in lines)


def test_short_ids_grow_until_they_are_unique() -> None:
    a = "automation_01M96GV8JY7856AAAAAAAAAAAA"
    b = "automation_01M96GV8JY7856AAAAAAAAAAAB"
    c = "automation_run_01M96GV8KATZSJAAAAAAAAAAAA"
    assert short_ids([a, b, c]) == {a: a[11:], b: b[11:], c: c[15:29]}
