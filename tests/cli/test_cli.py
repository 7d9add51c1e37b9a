"""The command line as a person uses it, in two terminals: each command a subprocess.

A worker (`serve`) runs in the background; `run --wait` blocks on a question in one
"terminal" and `answer` comes from another; the ledger and `--json` are read back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.abc
import msgspec
import pytest

import automations as am
from automations.model import from_json


class RunPage(msgspec.Struct, rename="camel"):
    items: list[am.Run]
    next_cursor: str | None


def _env(db: Path | str, backend: str = "asyncio", columns: int = 200) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AUTOMATIONS_DB=str(db),
        AUTOMATIONS_PROJECT="cli-tests",
        AUTOMATIONS_BACKEND=backend,
        COLUMNS=str(columns),
    )
    return env


def cli(
    db: Path | str,
    *args: str,
    check: bool = True,
    backend: str = "asyncio",
    cwd: Path | None = None,
    columns: int = 200,
) -> subprocess.CompletedProcess[str]:
    """One command, as a person types it, in `cwd` (by default the database's folder);
    waits for it to finish."""
    done = subprocess.run(
        [sys.executable, "-m", "automations", *args],
        capture_output=True,
        text=True,
        env=_env(db, backend, columns),
        cwd=_cwd(db, cwd),
        timeout=60,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}: {done.stderr}")
    return done


def _cwd(db: Path | str, cwd: Path | None) -> Path:
    if cwd is not None:
        return cwd
    assert isinstance(db, Path), "a database URL needs the folder to run in"
    return db.parent


async def _start(
    db: Path | str, backend: str, *args: str, cwd: Path | None = None
) -> anyio.abc.Process:
    return await anyio.open_process(
        [sys.executable, "-m", "automations", *args],
        env=_env(db, backend),
        cwd=_cwd(db, cwd),
        stderr=subprocess.STDOUT,
    )


async def _read_until(process: anyio.abc.Process, needle: str) -> str:
    """Read the process's output until `needle` shows up; everything read so far."""
    assert process.stdout is not None
    seen = ""
    with anyio.fail_after(30):
        while needle not in seen:
            try:
                seen += (await process.stdout.receive()).decode()
            except anyio.EndOfStream:
                raise AssertionError(f"ended before {needle!r}: {seen}") from None
    return seen


async def _rest(process: anyio.abc.Process) -> str:
    assert process.stdout is not None
    chunks = []
    with anyio.fail_after(30):
        async for chunk in process.stdout:
            chunks.append(chunk.decode())
        await process.wait()
    return "".join(chunks)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "automations.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """`--db` of either store: a file of the test's folder, or a PostgreSQL URL."""
    if request.param == "postgresql":
        dsn: str = request.getfixturevalue("pg_dsn")
        return dsn
    return str(tmp_path / "automations.db")


@pytest.mark.anyio
async def test_two_terminals_add_serve_run_wait_answer_and_the_ledger(
    location: str, tmp_path: Path, anyio_backend: str
) -> None:
    """The processes run on the test's backend too (AUTOMATIONS_BACKEND), on either store."""
    backend, db = anyio_backend, location

    def cli_(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return cli(db, *args, check=check, backend=backend, cwd=tmp_path)

    added = cli_("add", "Release", "--every", "1h", "--prompt", "Ship it?", "--json")
    automation = from_json(added.stdout, am.Automation)
    assert automation.title == "Release" and automation.executor == "demo"

    serving = ("serve", "--retention", "30d", "--max-scheduled-runs", "50")
    serve = await _start(db, backend, *serving, cwd=tmp_path)
    try:
        await _read_until(serve, "Ctrl-C to stop")
        waiting = await _start(db, backend, "run", automation.id, "--wait", cwd=tmp_path)
        seen = await _read_until(waiting, "automations answer")
        assert "awaiting_input asks: Ship it? [yes / no]" in seen
        run_id = seen.split()[0]

        wrong = cli_("answer", run_id, "maybe", check=False)
        assert wrong.returncode == 1
        assert wrong.stderr.strip().splitlines() == [
            "error: 'maybe' is not one of the options: yes, no"
        ]
        blocker_id = seen.split("--blocker ")[1].split()[0]
        other = cli_("answer", run_id, "yes", "--blocker", "blocker_other", check=False)
        assert other.returncode == 1
        assert other.stderr.strip() == (
            f"error: run {run_id} is not waiting on blocker_other (it is awaiting_input on "
            f"{blocker_id}); nothing was answered"
        )
        answered = cli_("answer", run_id, "yes", "--blocker", blocker_id).stdout
        assert f"answered {run_id} {blocker_id} (asks: Ship it? [yes / no]): yes" in answered

        rest = await _rest(waiting)
        assert waiting.returncode == 0, rest
        assert f"{run_id} succeeded did 3 steps for 'Ship it?' (answer: yes)" in rest
        again = cli_("answer", run_id, "yes", "--blocker", blocker_id, check=False)
        assert again.returncode == 1  # the same command again answers nothing else
        assert "(it is succeeded); nothing was answered" in again.stderr
        late = cli_("cancel", run_id).stdout
        assert f"{run_id} succeeded" in late and "nothing was cancelled" in late

        ledger = cli_("runs", automation.id).stdout
        assert run_id in ledger and "succeeded" in ledger
        page = from_json(cli_("runs", automation.id, "--json").stdout, RunPage)
        assert [r.id for r in page.items] == [run_id]
        assert page.items[0].state is am.RunState.SUCCEEDED
        assert page.items[0].cost == pytest.approx(0.0063)
    finally:
        serve.send_signal(signal.SIGINT)
        log = await _rest(serve)
    assert serve.returncode == 0, log
    assert "stopped cleanly" in log
    assert f"{run_id} succeeded" in log  # the live log, off a terminal: one line per event
    assert "asks: Ship it? [yes / no]" in log  # text from the database is never markup


def test_bad_input_is_one_line_exit_1_and_changes_nothing(db: Path) -> None:
    cases = {
        ("--cron", "61 * * * *"): "error: --cron '61 * * * *' is not a valid cron expression: "
        "minute: 61 is out of range 0-59",
        ("--every", "1h", "--timezone", "Mars/Base"): "error: --timezone 'Mars/Base' is not a "
        "known IANA timezone; write e.g. Europe/Berlin or UTC",
        ("--every", "soon"): "error: --every 'soon' is not a duration; write e.g. 30s, 5m, "
        "1h30m or 2d",
        ("--every", "5s"): "error: schedule.every: the interval must be at least 30 seconds",
        ("--every", "1h", "--step-cap", "0"): "error: stepCap: must be between 1 and 100000",
        ("--every", "1h", "--count", "-3"): "error: --count -3 is not a number of runs; "
        "write e.g. 10, or 0 for never",
    }
    for args, message in cases.items():
        done = cli(db, "add", "Bad", *args, check=False)
        assert done.returncode == 1, done
        assert done.stderr.splitlines() == [message]
        assert "Traceback" not in done.stderr
    assert json.loads(cli(db, "ls", "--json").stdout) == []


def test_serve_refuses_a_bad_limit_or_age_before_it_opens_anything(db: Path) -> None:
    cases = {
        ("--max-scheduled-runs", "0"): "error: --max-scheduled-runs '0' is not a count; "
        "write e.g. 500, or none for no bound",
        ("--max-scheduled-runs", "many"): "error: --max-scheduled-runs 'many' is not a count; "
        "write e.g. 500, or none for no bound",
        ("--retention", "forever"): "error: --retention 'forever' is not a duration; write "
        "e.g. 30s, 5m, 1h30m or 2d",
    }
    for args, message in cases.items():
        done = cli(db, "serve", *args, check=False)
        assert done.returncode == 1, done
        assert done.stderr.splitlines() == [message]
    assert not db.exists()


def test_usage_errors_exit_2_and_missing_things_exit_1(db: Path) -> None:
    assert cli(db, "add", check=False).returncode == 2
    assert cli(db, "frobnicate", check=False).returncode == 2
    cli(db, "add", "Brief", "--every", "1h")
    missing = cli(db, "show", "automation_0000", check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no automation automation_0000")


def test_json_output_is_the_wire_format(db: Path) -> None:
    created = from_json(
        cli(
            db, "add", "Brief", "--cron", "0 9 * * 1-5", "--timezone", "Europe/Berlin", "--json"
        ).stdout,
        am.Automation,
    )
    listed = from_json(cli(db, "ls", "--json").stdout, list[am.Automation])
    assert listed == [created]
    shown = from_json(cli(db, "show", created.id, "--json").stdout, am.Automation)
    assert shown == created
    edited = from_json(
        cli(db, "edit", created.id, "--title", "Morning brief", "--count", "3", "--json").stdout,
        am.Automation,
    )
    assert (edited.title, edited.stop, edited.revision) == ("Morning brief", am.AfterCount(3), 2)
    paused = from_json(cli(db, "pause", created.id, "--json").stdout, am.Automation)
    assert paused.paused and paused.next_fire_at is None
    wire = json.loads(cli(db, "events", "--no-follow", "--json").stdout.splitlines()[-1])
    assert wire["type"] == "automation.definition.updated"
    assert wire["automation"]["paused"] is True
    gone = from_json(cli(db, "rm", created.id, "--json").stdout, am.Tombstone)
    assert gone.revision == paused.revision + 1


def test_run_without_a_worker_says_how_to_start_one(db: Path) -> None:
    added = from_json(cli(db, "add", "Brief", "--every", "1h", "--json").stdout, am.Automation)
    done = cli(db, "run", added.id, check=False)
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: no worker serves project 'cli-tests'")
    assert "automations serve" in line


def test_prune_reports_what_it_forgot_and_refuses_a_bad_age(db: Path) -> None:
    cli(db, "add", "Brief", "--every", "1h")
    assert json.loads(cli(db, "prune", "--older-than", "30d", "--json").stdout) == {
        "runs": 0,
        "entries": 0,
    }
    said = cli(db, "prune", "--older-than", "30d").stdout
    assert said.strip() == "forgot 0 runs and 0 journal entries older than 30d"
    for age, message in (
        ("soon", "error: --older-than 'soon' is not a duration; write e.g. 30s, 5m, 1h30m or 2d"),
        ("0s", "error: olderThan: must be a positive duration"),
    ):
        done = cli(db, "prune", "--older-than", age, check=False)
        assert (done.returncode, done.stderr.splitlines()) == (1, [message])
    assert cli(db, "prune", check=False).returncode == 2  # the age is required


@pytest.mark.anyio
async def test_backfill_runs_the_past_weekdays_with_a_line_per_slot(
    location: str, tmp_path: Path, anyio_backend: str
) -> None:
    backend, db = anyio_backend, location

    def cli_(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return cli(db, *args, check=check, backend=backend, cwd=tmp_path)

    added = cli_(
        "add", "Brief", "--cron", "0 9 * * 1-5", "--timezone", "Europe/Berlin",
        "--jitter", "30s", "--json",
    )  # fmt: skip
    automation = from_json(added.stdout, am.Automation)
    assert automation.jitter.total_seconds() == 30
    assert "jitter 30s" in cli_("ls").stdout
    serve = await _start(db, backend, "serve", cwd=tmp_path)
    try:
        await _read_until(serve, "Ctrl-C to stop")
        # Friday 27 March and Monday 30 March 2026: 09:00 CET, then 09:00 CEST.
        week = ("backfill", automation.id, "--from", "2026-03-27", "--to", "2026-03-31")
        done = cli_(*week)
        lines = done.stdout.splitlines()
        assert lines[0].startswith("[1/2]") and " succeeded did 3 steps" in lines[0]
        assert lines[1].startswith("[2/2]") and " succeeded did 3 steps" in lines[1]
        assert lines[-1] == f"backfilled {automation.id}: 2 of 2 slots: 2 ran"
        again = cli_(*week, "--json")
        report = from_json(again.stdout, am.BackfillReport)
        assert report.runs == () and [s.isoformat() for s in report.existing] == [
            "2026-03-27T08:00:00+00:00",
            "2026-03-30T07:00:00+00:00",
        ]
        future = cli_("backfill", automation.id, "--from", "2026-03-27", "--to", "2999-01-01",
                      check=False)  # fmt: skip
        assert future.returncode == 1
        assert future.stderr.splitlines() == [
            "error: end: a backfill runs past slots; end the range (--to) by now"
        ]
        page = from_json(cli_("runs", automation.id, "--json").stdout, RunPage)
        assert sorted(r.trigger for r in page.items) == [am.Trigger.BACKFILL] * 2
    finally:
        serve.send_signal(signal.SIGINT)
        log = await _rest(serve)
    assert serve.returncode == 0, log


def test_a_line_off_a_terminal_is_never_wrapped(db: Path) -> None:
    """A log or a pipe gets one line per line, however narrow COLUMNS says it is (a
    long database URL once split serve's heading, and a test waiting for it)."""
    title = ("a title long enough to pass any narrow width " * 2).strip()
    done = cli(db, "add", title, "--every", "1h", columns=40)
    (line,) = done.stdout.splitlines()
    assert line.startswith("created automation_") and title in line
