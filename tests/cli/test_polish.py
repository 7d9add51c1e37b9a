"""Small things a person notices: ids by prefix, --version, prompts from a file or
stdin, local times."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import automations as am
from automations.cli._render import relative
from automations.model import from_json

from .terminal import Worker


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


def test_a_prompt_from_a_file_or_standard_input(tmp_path: Path) -> None:
    db = tmp_path / "automations.db"
    text = 'Summarise the alerts.\nThen "list" the owners.\n'
    (tmp_path / "prompt.txt").write_text(text)
    from_file = _cli(db, "add", "A", "--every", "1h", "--prompt-file", "prompt.txt", "--json")
    assert from_json(from_file.stdout, am.Automation).prompt == text.rstrip("\n")
    piped = _cli(db, "add", "B", "--every", "1h", "--prompt", "-", "--json", stdin=text)
    assert from_json(piped.stdout, am.Automation).prompt == text.rstrip("\n")
    both = _cli(db, "add", "C", "--every", "1h", "--prompt", "x", "--prompt-file", "p", check=False)
    assert both.stderr.splitlines() == ["error: give --prompt or --prompt-file, not both"]
    gone = _cli(db, "add", "D", "--every", "1h", "--prompt-file", "nope.txt", check=False)
    assert gone.stderr.splitlines() == [
        "error: --prompt-file 'nope.txt' cannot be read: No such file or directory"
    ]


def test_times_are_shown_in_the_viewers_zone_and_the_automations(tmp_path: Path) -> None:
    db = tmp_path / "automations.db"
    added = _cli(db, "add", "Brief", "--cron", "0 9 * * *", "--timezone", "Europe/Berlin", "--json")
    next_fire = from_json(added.stdout, am.Automation).next_fire_at
    assert next_fire is not None
    env = dict(os.environ, AUTOMATIONS_DB=str(db), AUTOMATIONS_PROJECT="polish", TZ="Asia/Tokyo")
    shown = subprocess.run(
        [sys.executable, "-m", "automations", "ls"],
        capture_output=True,
        text=True,
        env=env | {"COLUMNS": "300"},
        cwd=tmp_path,
        timeout=60,
        check=True,
    ).stdout
    tokyo = next_fire.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{tokyo:%H:%M} JST = 09:00 Europe/Berlin" in shown or (
        f"{tokyo:%H:%M:%S} JST = 09:00 Europe/Berlin" in shown
    ), shown


def test_a_standby_serve_says_so_and_says_when_it_takes_over(tmp_path: Path) -> None:
    db = tmp_path / "automations.db"
    env = dict(os.environ, AUTOMATIONS_DB=str(db), AUTOMATIONS_PROJECT="polish")
    first = Worker(env, tmp_path)
    second: Worker | None = None
    try:
        first.read_until("leading: this worker fires the schedules")
        second = Worker(env, tmp_path)
        second.read_until("standby: another worker leads; this one takes over if it stops")
        first.stop()
        second.read_until("now leading: this worker fires the schedules", timeout=10)
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_relative_times_read_as_a_person_says_them() -> None:
    assert relative(timedelta(seconds=-0.4)) == "now"  # was "in 0s": a moment just past
    assert relative(timedelta(seconds=0.6)) == "now"
    assert relative(timedelta(seconds=-1.5)) == "1s ago"
    assert relative(timedelta(seconds=-61)) == "1m 1s ago"
    assert relative(timedelta(minutes=90)) == "in 1h 30m"
