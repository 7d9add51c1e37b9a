"""The small parts: the JSON log formatter, `--metrics`' address, and that nothing of
the extras is imported unless asked for."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from automations.cli._observe import JsonFormatter
from automations.model import ValidationError
from automations.telemetry import Metrics, parse_metrics_bind, serve_metrics

ROOT = Path(__file__).resolve().parents[2]


def test_a_json_line_has_the_extra_fields_and_the_exception() -> None:
    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        record = logging.getLogger("automations.x").makeRecord(
            "automations.x",
            logging.WARNING,
            __file__,
            1,
            "run %s failed",
            ("r1",),
            sys.exc_info(),
            extra={"run_id": "r1", "automation_id": "a1"},
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "run r1 failed"
    assert (line["level"], line["logger"]) == ("WARNING", "automations.x")
    assert (line["run_id"], line["automation_id"]) == ("r1", "a1")
    assert "RuntimeError: disk full" in line["exception"]
    assert line["time"].endswith("+00:00")
    assert "args" not in line and "msg" not in line


def test_the_metrics_address() -> None:
    assert parse_metrics_bind("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_metrics_bind("[::1]:9464") == ("::1", 9464)
    for bad in ("9464", "localhost:", "localhost:http", "h:70000"):
        with pytest.raises(ValidationError, match="HOST:PORT"):
            parse_metrics_bind(bad)


def test_nothing_of_the_extras_is_imported_unless_asked_for(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import anyio
        import automations as am
        import automations.telemetry

        async def main() -> None:
            async with am.open_runtime(sys.argv[1], directory=sys.argv[2]) as rt:
                a = await rt.create(am.NewAutomation(
                    title="t", prompt="p", timezone="UTC", schedule=am.Cron("0 9 * * *"),
                    executor="demo"))
                await rt.wait((await rt.run_now(a.id)).id, timeout=10)

        anyio.run(main)
        print(sorted(m for m in sys.modules if m.split(".")[0] in
                     ("prometheus_client", "opentelemetry")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "x.db"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.anyio
async def test_a_taken_metrics_port_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValidationError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with serve_metrics(Metrics(), "127.0.0.1", port):
                pass
