"""The prompts of `run --wait` and `answer` in a real pseudo-terminal: an answer from
elsewhere ends the prompt at once, Ctrl-C exits 130 and Ctrl-D exits 1, each with one
line and no traceback; and output into a closed pipe ends the command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import automations as am
from automations.model import from_json

from .terminal import Terminal, Worker

BACKENDS = ["asyncio", "trio"]


def _env(db: Path, backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AUTOMATIONS_DB=str(db),
        AUTOMATIONS_PROJECT="prompts",
        AUTOMATIONS_BACKEND=backend,
        COLUMNS="200",
    )
    return env


def _cli(db: Path, backend: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "automations", *args],
        capture_output=True,
        text=True,
        env=_env(db, backend),
        cwd=db.parent,
        timeout=60,
        check=True,
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def served(tmp_path: Path, backend: str) -> Iterator[tuple[Path, str]]:
    """A database with an automation that asks "Ship it?", and a worker serving it."""
    db = tmp_path / "automations.db"
    added = _cli(db, backend, "add", "Release", "--every", "1h", "--prompt", "Ship it?", "--json")
    automation = from_json(added.stdout, am.Automation)
    worker = Worker(_env(db, backend), tmp_path)
    try:
        worker.read_until("Ctrl-C to stop")
        yield db, automation.id
    finally:
        worker.stop()


def _waiting_terminal(db: Path, backend: str, automation_id: str) -> tuple[Terminal, str]:
    terminal = Terminal(["run", automation_id, "--wait"], _env(db, backend), db.parent)
    seen = terminal.read_until("> ")
    run_id = seen.split()[0]
    assert run_id.startswith("automation_run_"), seen
    return terminal, run_id


def _after_prompt(terminal: Terminal) -> list[str]:
    """The lines the terminal showed after the last prompt, without the echoed ^C/^D."""
    rest = terminal.seen.rsplit("> ", 1)[1].replace("^C", "").replace("^D", "")
    return [line for line in rest.replace("\r", "").split("\n") if line.strip()]


def test_an_answer_from_elsewhere_ends_run_wait_within_a_second(
    served: tuple[Path, str], backend: str
) -> None:
    db, automation_id = served
    terminal, run_id = _waiting_terminal(db, backend, automation_id)
    try:
        _cli(db, backend, "answer", run_id, "yes")
        terminal.read_until("(answer: yes)")
        succeeded = time.monotonic()
        assert terminal.wait() == 0, terminal.seen
        assert time.monotonic() - succeeded < 1.0
        assert "Traceback" not in terminal.seen and "Exception ignored" not in terminal.seen
    finally:
        terminal.close()


def test_ctrl_c_at_the_prompt_of_run_wait_exits_130_with_one_line(
    served: tuple[Path, str], backend: str
) -> None:
    db, automation_id = served
    terminal, _ = _waiting_terminal(db, backend, automation_id)
    try:
        terminal.type("\x03")
        assert terminal.wait() == 130, terminal.seen
        assert _after_prompt(terminal) == ["interrupted"], terminal.seen
    finally:
        terminal.close()


def test_ctrl_d_at_the_prompt_of_answer_exits_1_with_one_line(
    served: tuple[Path, str], backend: str
) -> None:
    db, automation_id = served
    waiting, run_id = _waiting_terminal(db, backend, automation_id)
    terminal = Terminal(["answer", run_id], _env(db, backend), db.parent)
    try:
        terminal.read_until("> ")
        terminal.type("\x04")
        assert terminal.wait() == 1, terminal.seen
        assert _after_prompt(terminal) == [
            "error: no reply given (the input ended); nothing was answered"
        ], terminal.seen
    finally:
        terminal.close()
        waiting.close()


def test_ctrl_c_at_the_prompt_of_answer_exits_130_and_ctrl_d_of_run_wait_exits_1(
    served: tuple[Path, str], backend: str
) -> None:
    db, automation_id = served
    waiting, run_id = _waiting_terminal(db, backend, automation_id)
    terminal = Terminal(["answer", run_id], _env(db, backend), db.parent)
    try:
        terminal.read_until("> ")
        terminal.type("\x03")
        assert terminal.wait() == 130, terminal.seen
        assert _after_prompt(terminal) == ["interrupted"], terminal.seen
        waiting.type("\x04")
        assert waiting.wait() == 1, waiting.seen
        assert _after_prompt(waiting) == [
            "error: no reply given (the input ended); nothing was answered"
        ], waiting.seen
    finally:
        terminal.close()
        waiting.close()


def test_demo_into_head_ends_when_head_does(tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="200")
    with subprocess.Popen(
        [sys.executable, "-m", "automations", "demo", "--seconds", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    ) as demo:
        assert demo.stdout is not None and demo.stderr is not None
        head = subprocess.run(["head", "-2"], stdin=demo.stdout, capture_output=True, check=True)
        demo.stdout.close()  # only head reads the pipe, as in a shell
        try:
            code = demo.wait(timeout=30)
        finally:
            demo.kill()
        errors = demo.stderr.read().decode()
    assert len(head.stdout.splitlines()) == 2
    assert (code, errors) == (1, "")  # quietly, as Python's own tools do


def test_ctrl_c_stops_the_whole_demo_at_once_with_130(tmp_path: Path) -> None:
    """Not only its view: the demo used to go on waiting to answer its question."""
    env = dict(os.environ, COLUMNS="200")
    terminal = Terminal(["demo", "--seconds", "60"], env, tmp_path)
    try:
        terminal.read_until("awaiting_input")
        terminal.type("\x03")
        assert terminal.wait(timeout=15) == 130, terminal.seen
        assert "interrupted: the demo stopped early" in terminal.seen
        assert "the ledger:" not in terminal.seen
    finally:
        terminal.close()
