"""The embedding example in the README runs as written (on a temporary database)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
