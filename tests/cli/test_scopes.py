"""The scope decides what a command sees: a subdirectory finds its project's
directory, an empty scope names the ones that are not, and `add` says when no
worker serves its directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import automations as am
from automations.model import from_json

from .terminal import Worker


def _env(db: Path) -> dict[str, str]:
    return dict(os.environ, AUTOMATIONS_DB=str(db), AUTOMATIONS_PROJECT="scopes", COLUMNS="300")


def _cli(db: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "automations", *args],
        capture_output=True,
        text=True,
        env=_env(db),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_subdirectory_sees_its_projects_automations(tmp_path: Path) -> None:
    project = Path(os.path.realpath(tmp_path))
    db = project / "automations.db"
    created = _cli(db, project, "add", "Brief", "--every", "1h", "--json")
    added = from_json(created.stdout, am.Automation)
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    listed = from_json(_cli(db, deep, "ls", "--json").stdout, list[am.Automation])
    assert [a.id for a in listed] == [added.id]
    assert "Brief" in _cli(db, deep, "show", added.id).stdout
    assert _cli(db, deep, "runs", added.id).stdout.strip() == "no runs"


def test_an_empty_scope_names_the_scopes_that_have_automations(tmp_path: Path) -> None:
    project = Path(os.path.realpath(tmp_path))
    db = project / "automations.db"
    _cli(db, project, "add", "Brief", "--every", "1h")
    elsewhere = project.parent / f"{project.name}-elsewhere"
    elsewhere.mkdir()
    said = _cli(db, elsewhere, "ls").stdout
    assert said.splitlines() == [
        f"no automations in project 'scopes' in {elsewhere}; this database has:",
        f"  1 in project 'scopes' in {project}: "
        f"automations --project scopes --directory {project} ls",
    ]
    assert json.loads(_cli(db, elsewhere, "ls", "--json").stdout) == []
    elsewhere.rmdir()


def test_add_says_when_no_worker_serves_its_directory(tmp_path: Path) -> None:
    project = Path(os.path.realpath(tmp_path))
    db = project / "automations.db"
    unserved = _cli(db, project, "add", "Brief", "--every", "1h")
    assert unserved.stderr.splitlines() == [
        f"note: no worker serves project 'scopes' in {project}, so it does not fire yet; "
        f"start `automations serve` in {project}"
    ]
    worker = Worker(_env(db), project)
    try:
        worker.read_until("Ctrl-C to stop")
        served = _cli(db, project, "add", "Digest", "--every", "1h")
        assert served.stderr == "" and "created" in served.stdout
    finally:
        worker.stop()
