"""Databases a person may point the command line at: read-only ones, damaged ones,
missing ones; each failure is one line (or one JSON object under --json), exit 1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import automations as am
from automations.model import from_json

# Root ignores file permissions; without these capabilities it obeys them (setpriv is
# util-linux's, present wherever the tests run as root in a container).
_WITHOUT_OVERRIDES = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


def _run(db: Path, *args: str, restricted: bool = False) -> subprocess.CompletedProcess[str]:
    """`automations ARGS`; `restricted`: bound by file permissions even as root."""
    env = dict(os.environ, AUTOMATIONS_DB=str(db), AUTOMATIONS_PROJECT="dbs", COLUMNS="200")
    prefix = _WITHOUT_OVERRIDES if restricted and os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "automations", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=db.parent,
        timeout=60,
        check=False,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A directory made read-only by the test, writable again for pytest's cleanup."""
    path = tmp_path / "backup"
    path.mkdir()
    try:
        yield path
    finally:
        path.chmod(0o755)


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: "), line
    return line


def test_read_commands_work_on_a_database_in_a_read_only_directory(folder: Path) -> None:
    db = folder / "automations.db"
    added = from_json(_run(db, "add", "Brief", "--every", "1h", "--json").stdout, am.Automation)
    for beside in folder.iterdir():  # a backup: the file alone
        if beside != db:
            shutil.rmtree(beside) if beside.is_dir() else beside.unlink()
    db.chmod(0o444)
    folder.chmod(0o555)
    before = sorted(p.name for p in folder.iterdir())

    listed = _run(db, "ls", "--json", restricted=True)
    assert listed.returncode == 0, listed.stderr
    assert [a.id for a in from_json(listed.stdout, list[am.Automation])] == [added.id]
    shown = _run(db, "show", added.id, restricted=True)
    assert shown.returncode == 0 and "Brief" in shown.stdout, shown.stderr
    assert _run(db, "runs", added.id, restricted=True).stdout.strip() == "no runs"
    events = _run(db, "events", "--no-follow", restricted=True)
    assert events.returncode == 0 and added.id in events.stdout, events.stderr

    refused = _one_line_error(_run(db, "pause", added.id, restricted=True))
    assert str(db) in refused
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing created beside it


def test_a_database_with_corrupt_pages_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "automations.db"
    for n in range(30):
        _run(db, "add", f"Brief {n}", "--every", "1h", "--prompt", "x" * 2000)
    for beside in tmp_path.iterdir():
        if beside != db:
            shutil.rmtree(beside) if beside.is_dir() else beside.unlink()
    data = bytearray(db.read_bytes())
    page = 4096
    for start in range(2 * page, len(data), page):
        data[start : start + 64] = b"\xa5" * 64  # every page's header after the first two
    db.write_bytes(bytes(data))
    for command in (["ls"], ["add", "More", "--every", "1h"]):
        line = _one_line_error(_run(db, *command))
        assert str(db) in line or "automations.db" in line, line


def test_unknown_ids_and_missing_databases_exit_1_and_json_errors_are_objects(
    tmp_path: Path,
) -> None:
    db = tmp_path / "automations.db"
    typo = tmp_path / "automatons.db"
    for command in (["ls"], ["show", "x"], ["runs", "x"], ["events"], ["pause", "x"]):
        line = _one_line_error(_run(typo, *command))
        assert line.startswith(f"error: no database at {typo}"), line
    assert not typo.exists()

    _run(db, "add", "Brief", "--every", "1h")
    assert _one_line_error(_run(db, "runs", "nope")).startswith("error: no automation nope")

    missing = _run(db, "show", "nope", "--json")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert json.loads(missing.stderr) == {
        "error": "not_found",
        "message": "no automation nope in this project and directory",
    }
    bad = _run(db, "add", "Bad", "--every", "5s", "--json")
    assert (bad.returncode, bad.stdout) == (1, "")
    assert json.loads(bad.stderr) == {
        "error": "validation_error",
        "message": "schedule.every: the interval must be at least 30 seconds",
        "details": [{"field": "schedule.every", "code": "interval_below_minimum"}],
    }
