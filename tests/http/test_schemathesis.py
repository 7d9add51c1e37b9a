"""Schemathesis runs the OpenAPI document against a real server: a bounded number of
generated requests per operation, no 500, every response as the document says.

Offline: the document comes from the server under test. Its examples give valid
drafts and its links the ids that creating returns, so the stateful phase acts on
real automations and runs. The event stream never ends, so it is left out here
(tests/http/test_events.py covers it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import running_server

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)

OPTIONS = (
    *("--max-examples", "20", "--seed", "22", "--workers", "1", "--no-color"),
    *("--exclude-path", "/automation/events", "--phases", "examples,coverage,fuzzing,stateful"),
    *("--request-timeout", "30"),
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_openapi_document_holds_against_the_server(tmp_path: Path, backend: str) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("schemathesis is not installed (the dev extra has it)")
    with running_server(tmp_path, backend) as server:
        done = subprocess.run(
            [cli, "run", f"{server.url}/openapi.json", "--checks", CHECKS, *OPTIONS],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=600,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
