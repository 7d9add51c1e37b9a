"""`make demo` runs `automations demo`: it must work on a fresh machine and end by itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_demo_runs_the_demo_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n\t(?P<command>.*)$", makefile, re.MULTILINE)
    assert recipe is not None
    assert recipe.group("command") == "$(BIN)/automations demo"


def test_the_demo_fires_blocks_answers_and_prints_the_ledger(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "automations", "demo", "--seconds", "5"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "awaiting_input step 3: asks: Ship the release to staging?" in out
    assert "the demo answers" in out
    assert "did 3 steps for 'Triage the new issues'" in out  # the interval fired
    assert "(answer: yes)" in out
    assert "the ledger:" in out and "what to try next:" in out
    assert (tmp_path / "automations-demo.db").exists()
