"""A real server for the HTTP tests: `automations serve --http` in a subprocess on a
free loopback port, on the backend asked for, ready once `/healthz` answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXECUTORS = [
    f"{name}=tests.http.executors:{name}" for name in ("instant", "ask", "permit", "hang")
]  # fmt: skip
READY_DEADLINE = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    token: str | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        token = token if token is not None else self.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _env(backend: str, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
        AUTOMATIONS_BACKEND=backend,
        AUTOMATIONS_PROJECT="http-tests",
        COLUMNS="200",
    )
    env.pop("AUTOMATIONS_TOKEN", None)
    env.update(extra)
    return env


def _wait_ready(server: Server) -> None:
    """Poll until the server answers anything, with a deadline (never a bare sleep)."""
    deadline = time.monotonic() + READY_DEADLINE
    while True:
        if server.process.poll() is not None:
            raise AssertionError(
                f"the server exited {server.process.returncode}:\n{server.output()}"
            )
        try:
            httpx.get(f"{server.url}/healthz", timeout=1)
            return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the server was not ready in time:\n{server.output()}")
        time.sleep(0.05)


@contextmanager
def running_server(
    directory: Path,
    backend: str,
    *args: str,
    host: str = "127.0.0.1",
    token: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """A worker serving HTTP until the block ends; then stopped with SIGINT, and
    checked to have stopped cleanly, without a traceback."""
    port = free_port(host)
    log = directory / f"server-{backend}-{port}.log"
    command = [sys.executable, "-m", "automations", "--db", str(directory / "http.db")]
    command += ["serve", "--http", f"{host}:{port}", *args]
    for spec in EXECUTORS:
        command += ["--executor", spec]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=_env(backend, env or {}), cwd=directory, stdout=sink, stderr=sink
        )
    server = Server(f"http://{host}:{port}", process, log, token)
    try:
        _wait_ready(server)
        yield server
    finally:
        for client in server.clients:
            client.close()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"the server did not stop:\n{server.output()}") from None
    output = server.output()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert "stopped cleanly" in output, output
