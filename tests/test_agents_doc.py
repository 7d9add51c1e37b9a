"""The examples of docs/agents.md run as written, offline (on a temporary database)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = {
    "PydanticAI": [
        """Permission(tool='deploy', detail='{"env":"staging"}')""",
        "succeeded deploy said: deployed to staging",
    ],
    "LangGraph": [
        "Question(text='Which colour?', options=('red', 'blue'))",
        "succeeded Paint the shed in blue",
    ],
    "OpenAI Agents SDK": [
        """Permission(tool='deploy', detail='{"env":"staging"}')""",
        "succeeded deploy said: deployed to staging",
    ],
}
"""What each section's example prints, line by line."""


def _example(section: str) -> str:
    text = (ROOT / "docs" / "agents.md").read_text()
    found = re.search(rf"\n## {re.escape(section)}\n.*?```python\n(.*?)```", text, re.S)
    assert found is not None, f"docs/agents.md lost its {section} example"
    return found.group(1)


@pytest.mark.parametrize("section", sorted(EXPECTED))
def test_the_example_runs_and_prints_what_the_doc_says(section: str, tmp_path: Path) -> None:
    code = _example(section).replace('"agents.db"', repr(str(tmp_path / "agents.db")))
    for line in EXPECTED[section]:
        assert f"# {line}" in code  # the comment in the doc says what is printed
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    printed = completed.stdout.splitlines()
    assert printed == EXPECTED[section]
