"""HTTP: run-now over HTTP against the same workload in-process; events to many SSE
subscribers.

The server is `automations.http` on Hypercorn in a subprocess (a worker with a no-op
executor and no live view), the client httpx in this process, so the two do not share
an event loop. Run-now: `--concurrency` callers each POST `/automation/{id}/run` and
await the answer before the next; latency is from the POST to `succeeded` seen on the
event stream. The same workload then runs in-process (`benchmarks burst`). Fan-out:
`--subscribers` clients follow `/automation/events` while runs are started at
`--rate` per second; delivery latency is from the run's `completedAt` (stamped just
before its final commit, so an upper bound on commit-to-delivery) to its arrival at
each subscriber, in milliseconds of the same machine's clock.

    python -m benchmarks http [--n 5000] [--concurrency 32] [--subscribers 100]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import h11
import httpx
import msgspec

import automations as am
from automations.api import open_runtime
from automations.http import create_app, serve_http
from automations.model import to_json

from . import burst
from ._common import environment, latency, manual_automation

ROOT = Path(__file__).resolve().parents[1]
_TERMINAL = frozenset({"succeeded", "failed", "stopped"})


class _RunFields(msgspec.Struct):
    id: str
    state: str
    completedAt: int | None = None


class _RunEvent(msgspec.Struct):
    run: _RunFields


class _Id(msgspec.Struct):
    id: str


_decode_run_event = msgspec.json.Decoder(_RunEvent)
_decode_id = msgspec.json.Decoder(_Id)


async def _noop(ctx: am.RunContext) -> None:
    return None


# -- the server (a subprocess) ----------------------------------------------------------


async def _serve(path: str, port: int, durability: Any) -> None:
    executors = {"default": _noop}
    async with (
        open_runtime(path, executors=executors, durability=durability, project="bench") as rt,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(serve_http, create_app(rt), "127.0.0.1", port)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
        tg.cancel_scope.cancel()


def serve_main(argv: list[str]) -> None:
    path, port, durability, backend = argv
    anyio.run(_serve, path, int(port), durability, backend=backend)


def _start_server(directory: str, port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    path = os.path.join(directory, "http.db")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    command = [sys.executable, "-m", "benchmarks.http_api", path, str(port), args.durability]
    return subprocess.Popen([*command, args.backend], cwd=ROOT, env=env)


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the server was not ready in 30 s")
        time.sleep(0.05)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- the client --------------------------------------------------------------------------
# A keep-alive HTTP/1.1 connection on h11 (Hypercorn's own parser): httpx's async pool
# costs more CPU per request than the server does, and would measure itself.


class _Connection:
    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self._stream = stream
        self._h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(await anyio.connect_tcp("127.0.0.1", port))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def _send(self, method: str, target: str, body: bytes) -> None:
        headers = [("Host", "127.0.0.1"), ("Content-Length", str(len(body)))]
        data = self._h11.send(h11.Request(method=method, target=target, headers=headers)) or b""
        if body:
            data += self._h11.send(h11.Data(data=body)) or b""
        data += self._h11.send(h11.EndOfMessage()) or b""
        await self._stream.send(data)

    async def _next(self) -> Any:
        while (event := self._h11.next_event()) is h11.NEED_DATA:
            self._h11.receive_data(await self._stream.receive())
        return event

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        await self._send(method, target, body)
        status, chunks = 0, []
        while True:
            event = await self._next()
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._h11.start_next_cycle()
                return status, b"".join(chunks)

    async def lines(self, target: str) -> AsyncIterator[bytes]:
        """The lines of a streamed response (an event stream), as they come."""
        await self._send("GET", target, b"")
        pending = b""
        while True:
            event = await self._next()
            if isinstance(event, h11.Data):
                *complete, pending = (pending + bytes(event.data)).split(b"\n")
                for line in complete:
                    yield line
            elif isinstance(event, h11.EndOfMessage):
                return


async def _create(port: int, title: str) -> str:
    connection = await _Connection.open(port)
    try:
        status, body = await connection.request(
            "POST", "/automation", to_json(manual_automation(title))
        )
        assert status == 200, body
        return _decode_id.decode(body).id
    finally:
        await connection.aclose()


async def _head(port: int) -> int:
    """The journal head (what `X-Event-Seq` says), to follow from."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        return int((await client.get("/automation")).headers["x-event-seq"])


async def _follow(
    port: int, since: int, on_run: Callable[[_RunFields, float], bool], connected: anyio.Event
) -> None:
    """Read the stream, handing each terminal run event to `on_run(run, now)` until it
    returns True."""
    connection = await _Connection.open(port)
    try:
        event = b""
        async for line in connection.lines(f"/automation/events?since={since}"):
            if line.startswith(b": connected"):
                connected.set()
            elif line.startswith(b"event: "):
                event = line[7:]
            elif line.startswith(b"data: ") and event == b"automation.run.updated":
                now = time.time()
                ended = b'"state":"succeeded"' in line or b'"state":"failed"' in line
                if ended and on_run(_decode_run_event.decode(line[6:]).run, now):
                    return
    finally:
        await connection.aclose()


async def _run_now_over_http(port: int, n: int, concurrency: int) -> dict[str, Any]:
    automation_id = await _create(port, "http-burst")
    since = await _head(port)
    submitted: dict[str, float] = {}
    ended: dict[str, float] = {}
    outcomes: dict[str, int] = {}
    issued = [0]
    connected = anyio.Event()

    def on_run(run: _RunFields, now: float) -> bool:
        ended[run.id] = now
        outcomes[run.state] = outcomes.get(run.state, 0) + 1
        return len(ended) >= n

    async def submit() -> None:
        connection = await _Connection.open(port)
        try:
            while issued[0] < n:
                issued[0] += 1
                started = time.time()
                status, body = await connection.request("POST", f"/automation/{automation_id}/run")
                assert status == 200, body
                submitted[_decode_id.decode(body).id] = started
        finally:
            await connection.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(_follow, port, since, on_run, connected)
        await connected.wait()
        t0 = time.perf_counter()
        async with anyio.create_task_group() as submitters:
            for _ in range(concurrency):
                submitters.start_soon(submit)
        t_posted = time.perf_counter()
    t1 = time.perf_counter()
    latencies = [(ended[i] - submitted[i]) * 1000 for i in submitted if i in ended]
    return {
        "completed": len(ended),
        "outcomes": outcomes,
        "requests_per_s": round(n / (t_posted - t0), 1),
        "runs_per_s": round(len(ended) / (t1 - t0), 1),
        "e2e_latency_ms": latency(latencies),
    }


async def _fanout(port: int, subscribers: int, runs: int, rate: float) -> dict[str, Any]:
    automation_id = await _create(port, "http-fanout")
    since = await _head(port)
    delays: list[float] = []

    def subscriber() -> Callable[[_RunFields, float], bool]:
        seen = [0]

        def on_run(run: _RunFields, now: float) -> bool:
            if run.completedAt is not None:
                delays.append(now * 1000 - run.completedAt)
            seen[0] += 1
            return seen[0] >= runs

        return on_run

    async with anyio.create_task_group() as tg:
        ready = []
        for _ in range(subscribers):
            connected = anyio.Event()
            ready.append(connected)
            tg.start_soon(_follow, port, since, subscriber(), connected)
        for connected in ready:
            await connected.wait()
        connection = await _Connection.open(port)
        try:
            for _ in range(runs):
                status, body = await connection.request("POST", f"/automation/{automation_id}/run")
                assert status == 200, body
                await anyio.sleep(1 / rate)
        finally:
            await connection.aclose()
    return {
        "subscribers": subscribers,
        "runs": runs,
        "deliveries": len(delays),
        "commit_to_delivery_ms": latency(delays),
    }


async def _client(port: int, args: argparse.Namespace) -> dict[str, Any]:
    with anyio.fail_after(args.timeout):
        over_http = await _run_now_over_http(port, args.n, args.concurrency)
        fanout = await _fanout(port, args.subscribers, args.fanout_runs, args.rate)
    return {"http": over_http, "fanout": fanout}


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n, args.concurrency, args.subscribers, args.fanout_runs = 30, 4, 5, 5
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="automations-http-") as directory:
        server = _start_server(directory, port, args)
        try:
            _wait_ready(url, server)
            measured = anyio.run(_client, port, args)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    same_on_sqlite = argparse.Namespace(  # the in-process burst
        **vars(args),
        db=None,
        telemetry=False,
        span_processor="batch",
        sample_ratio=1.0,
        disk_probe=True,
    )
    in_process = anyio.run(burst._main, same_on_sqlite, backend=args.backend)
    over_http, fanout = measured["http"], measured["fanout"]
    ok = (
        over_http["completed"] == args.n
        and over_http["outcomes"] == {"succeeded": args.n}
        and fanout["deliveries"] == args.subscribers * args.fanout_runs
        and in_process["ok"]
    )
    return {
        "bench": "http",
        "n": args.n,
        "concurrency": args.concurrency,
        "durability": args.durability,
        "backend": args.backend,
        "http": over_http,
        "in_process": {
            "runs_per_s": in_process["jobs_per_s"],
            "e2e_latency_ms": in_process["e2e_latency_ms"],
        },
        "fanout": fanout,
        "ok": ok,
    } | environment()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=5_000, help="run-now runs over HTTP")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent HTTP callers")
    parser.add_argument("--subscribers", type=int, default=100, help="SSE subscribers")
    parser.add_argument("--fanout-runs", type=int, default=200, help="runs while they listen")
    parser.add_argument("--rate", type=float, default=100.0, help="runs/s during the fan-out")
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--timeout", type=float, default=600.0)


__all__ = ["add_arguments", "run", "serve_main"]

if __name__ == "__main__":
    serve_main(sys.argv[1:])
