"""The repository does not point outside itself: a clone has everything it cites."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = "../" + "shared"  # spelled in two parts so that this file does not match


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_no_file_refers_to_the_shared_folder_beside_the_repository() -> None:
    files = _tracked_files()
    assert len(files) > 50  # the listing worked
    pointing = [
        str(path.relative_to(ROOT))
        for path in files
        if OUTSIDE in path.read_text(encoding="utf-8", errors="ignore")
    ]
    assert pointing == []


def test_the_docs_the_readme_links_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("contract", "semantics", "architecture", "embedding", "operations"):
        assert f"docs/{name}.md" in readme
        assert (ROOT / "docs" / f"{name}.md").is_file()
    assert (ROOT / "benchmarks" / "peer" / "requirements.txt").is_file()
