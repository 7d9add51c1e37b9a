"""`--db postgresql://...`: a URL is never taken for a file; failures are one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def _cli(tmp_path: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AUTOMATIONS_PROJECT="urls", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "automations", "--db", db, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def _nobody_listens() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return f"postgresql://someone:s3cret@127.0.0.1:{port}/automations"


def test_a_url_without_a_server_is_one_line_naming_it_without_its_password(
    tmp_path: Path,
) -> None:
    done = _cli(tmp_path, _nobody_listens(), "ls")
    assert done.returncode == 1, done
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: cannot connect to PostgreSQL at postgresql://someone:***@")
    assert "s3cret" not in done.stderr and "no database at" not in line
    assert list(tmp_path.iterdir()) == []  # no file was made of the URL


def test_the_demo_refuses_a_url_it_would_have_to_wipe(tmp_path: Path) -> None:
    done = _cli(tmp_path, _nobody_listens(), "demo")
    assert done.returncode == 1, done
    assert "the demo starts clean on a SQLite file" in done.stderr
