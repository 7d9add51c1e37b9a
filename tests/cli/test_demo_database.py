"""The demo deletes its database first, so it must never take one of the user's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _automations(cwd: Path, *args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATIONS_")}
    if db is not None:
        env["AUTOMATIONS_DB"] = db
    return subprocess.run(
        [sys.executable, "-m", "automations", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def _titles(cwd: Path, db: str) -> list[str]:
    listed = _automations(cwd, "--db", db, "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    return sorted(automation["title"] for automation in json.loads(listed.stdout))


def test_the_demo_refuses_a_db_that_exists_and_leaves_it_untouched(tmp_path: Path) -> None:
    added = _automations(tmp_path, "--db", "mine.db", "add", "precious", "--every", "1h")
    assert added.returncode == 0, added.stderr
    done = _automations(tmp_path, "--db", "mine.db", "demo", "--seconds", "1")
    assert done.returncode == 1
    assert done.stderr.startswith("error: --db mine.db exists, and the demo deletes"), done.stderr
    assert _titles(tmp_path, "mine.db") == ["precious"]


def test_the_demo_does_not_take_automations_db_from_the_environment(tmp_path: Path) -> None:
    added = _automations(tmp_path, "--db", "mine.db", "add", "precious", "--every", "1h")
    assert added.returncode == 0, added.stderr
    done = _automations(tmp_path, "demo", "--seconds", "1", db="mine.db")
    assert done.returncode == 0, done.stderr
    assert "demo database: automations-demo.db" in done.stdout
    assert _titles(tmp_path, "mine.db") == ["precious"]


def test_the_demo_needs_some_seconds(tmp_path: Path) -> None:
    done = _automations(tmp_path, "demo", "--seconds", "-5")
    assert (done.returncode, done.stderr) == (
        1,
        "error: --seconds -5: the demo needs some time; give more than 0\n",
    )
    assert not (tmp_path / "automations-demo.db").exists()
