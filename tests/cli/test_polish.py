"""Small things a person notices: ids by prefix, --version, prompts from a file or
stdin, local times."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import automations as am
from automations.model import from_json


def _cli(
    db: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AUTOMATIONS_DB=str(db), AUTOMATIONS_PROJECT="polish", COLUMNS="300")
    done = subprocess.run(
        [sys.executable, "-m", "automations", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=db.parent,
        timeout=60,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def _unique_prefix(id: str, others: list[str]) -> str:
    for length in range(1, len(id) + 1):
        if not any(other.startswith(id[:length]) for other in others):
            return id[:length]
    raise AssertionError(f"{id} is a prefix of another id")


def test_ids_are_accepted_by_a_unique_prefix(tmp_path: Path) -> None:
    db = tmp_path / "automations.db"
    ids = [
        from_json(_cli(db, "add", title, "--every", "1h", "--json").stdout, am.Automation).id
        for title in ("One", "Two")
    ]
    first = ids[0].removeprefix("automation_")
    short = _unique_prefix(first, [i.removeprefix("automation_") for i in ids[1:]])
    shown = from_json(_cli(db, "show", short, "--json").stdout, am.Automation)
    assert shown.id == ids[0]
    paused = from_json(_cli(db, "pause", f"automation_{short}", "--json").stdout, am.Automation)
    assert paused.id == ids[0] and paused.paused
    assert "no runs" in _cli(db, "runs", short).stdout

    ambiguous = _cli(db, "show", "0", check=False)
    assert ambiguous.returncode == 1
    assert ambiguous.stderr.splitlines() == [
        f"error: '0' is the start of several automation ids ({ids[0]}, {ids[1]}); type more of it"
    ]
    missing = _cli(db, "show", "ZZZ", check=False)
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "error: no automation ZZZ in this project and directory",
    )


def test_version(tmp_path: Path) -> None:
    said = _cli(tmp_path / "x.db", "--version").stdout
    assert said.startswith("automations ") and said.split()[1][0].isdigit()
