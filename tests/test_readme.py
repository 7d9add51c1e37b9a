"""The embedding example in the README runs as written (on a temporary database)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _example() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Embedding\n\n```python\n(.*?)```", readme, re.S)
    assert block is not None, "the README lost its embedding example"
    return block.group(1)


def test_readme_embedding_example_passes_mypy_strict(tmp_path: Path) -> None:
    """A user copies it into a project checked with `mypy --strict` (issue 21, item 8)."""
    example = tmp_path / "example.py"
    example.write_text(_example())
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(example)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,  # not the repository's configuration: a user's, with --strict
        env={**os.environ, "MYPYPATH": str(ROOT / "src")},  # this checkout's package
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Success: no issues found in 1 source file" in completed.stdout


def test_readme_embedding_example_runs(tmp_path: Path) -> None:
    code = _example().replace('"automations.db"', repr(str(tmp_path / "readme.db")))
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "state=<RunState.SUCCEEDED" in completed.stdout
    assert "result='yes/True'" in completed.stdout
