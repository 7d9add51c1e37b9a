"""The README's examples run as written (on a temporary database): the embedding
example, and the command-line tour as far as it goes without a person."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from .cli.terminal import Worker

ROOT = Path(__file__).resolve().parents[1]


def test_readme_embedding_example_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Embedding\n\n```python\n(.*?)```", readme, re.S)
    assert block is not None, "the README lost its embedding example"
    code = block.group(1).replace('"automations.db"', repr(str(tmp_path / "readme.db")))
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "state=<RunState.SUCCEEDED" in completed.stdout
    assert "result='yes/True'" in completed.stdout


def _tour() -> list[list[str]]:
    """The commands of the README's command-line tour, in order, as argument lists."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## The command line\n.*?```\n(.*?)```", readme, re.S)
    assert block is not None, "the README lost its command-line tour"
    commands: list[list[str]] = []
    for line in block.group(1).replace("\\\n", " ").splitlines():
        command: list[str] = []
        for word in [*shlex.split(line, comments=True), ";"]:
            if word.endswith(";"):
                command += [word[:-1]] if word[:-1] else []
                if command:
                    assert command[0] == "automations", line
                    commands.append(command[1:])
                command = []
            else:
                command.append(word)
    return commands


def test_the_readme_tour_runs_top_to_bottom(tmp_path: Path) -> None:
    """Each command of the tour, against a temporary database, with `serve` in the
    background and `answer` (from "another terminal") answering `run --wait`."""
    env = dict(os.environ, AUTOMATIONS_DB=str(tmp_path / "automations.db"), COLUMNS="200")
    env.pop("AUTOMATIONS_PROJECT", None)
    ids: dict[str, str] = {}

    def cli(args: list[str]) -> str:
        args = [ids.get(word, word) for word in args]
        done = subprocess.run(
            [sys.executable, "-m", "automations", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    commands = _tour()
    assert commands[0] == ["serve"]
    worker = Worker(env, tmp_path)
    waiting: subprocess.Popen[str] | None = None
    said: dict[str, str] = {}
    try:
        worker.read_until("Ctrl-C to stop")
        for args in commands[1:]:
            if args[0] == "add":
                created = json.loads(cli([*args, "--json"]))
                ids["<automation-id>"] = created["id"]
            elif args[:1] == ["run"] and "--wait" in args:
                waiting = subprocess.Popen(
                    [sys.executable, "-m", "automations", "run", ids["<automation-id>"], "--wait"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    env=env,
                    cwd=tmp_path,
                )
                assert waiting.stdout is not None
                first = waiting.stdout.readline()  # "<run-id> scheduled"
                ids["<run-id>"] = first.split()[0]
                while "automations answer" not in (line := waiting.stdout.readline()):
                    assert line, "run --wait ended before it asked its question"
            else:
                said[args[0]] = cli(args)
                if args[0] == "answer":
                    assert waiting is not None and waiting.stdout is not None
                    rest = waiting.stdout.read()
                    assert waiting.wait(timeout=60) == 0, rest
                    assert f"{ids['<run-id>']} succeeded" in rest
    finally:
        if waiting is not None:
            if waiting.poll() is None:
                waiting.kill()
                waiting.wait()
            assert waiting.stdout is not None
            waiting.stdout.close()
        log = worker.stop()
    assert "stopped cleanly" in log
    assert "Morning brief" in said["ls"] and "Release" in said["ls"]
    assert ids["<run-id>"] in said["runs"] and "succeeded" in said["runs"]
    assert "succeeded" in said["events"]
    assert said["rm"].startswith("deleted ")
