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
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
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


_decode_run_event = msgspec.json.Decoder(_RunEvent)


async def _noop(ctx: am.RunContext) -> None:
    return None


# -- the server (a subprocess) ----------------------------------------------------------


async def _serve(path: str, port: int, durability: Any) -> None:
    executors = {"default": _noop}
    async with open_runtime(
        path, executors=executors, durability=durability, project="bench"
    ) as rt:
        await serve_http(create_app(rt), "127.0.0.1", port)


def serve_main(argv: list[str]) -> None:
    path, port, durability, backend = argv
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT: the benchmark is over
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


async def _create(client: httpx.AsyncClient, title: str) -> tuple[str, int]:
    response = await client.post("/automation", content=to_json(manual_automation(title)))
    response.raise_for_status()
    head = int((await client.get("/automation")).headers["x-event-seq"])
    return str(response.json()["id"]), head


async def _follow(
    client: httpx.AsyncClient,
    since: int,
    on_run: Any,
    connected: anyio.Event | None = None,
) -> None:
    """Read the stream, handing each terminal run event to `on_run(run, now)` until it
    returns True."""
    async with client.stream("GET", "/automation/events", params={"since": since}) as stream:
        if connected is not None:
            connected.set()
        event = ""
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "automation.run.updated":
                now = time.time()
                ended = '"state":"succeeded"' in line or '"state":"failed"' in line
                if ended and on_run(_decode_run_event.decode(line[6:]).run, now):
                    return


async def _run_now_over_http(url: str, n: int, concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(
        max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
    )
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        automation_id, since = await _create(client, "http-burst")
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
            while issued[0] < n:
                issued[0] += 1
                started = time.time()
                response = await client.post(f"/automation/{automation_id}/run")
                response.raise_for_status()
                submitted[response.json()["id"]] = started

        async with anyio.create_task_group() as tg:
            tg.start_soon(_follow, client, since, on_run, connected)
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


async def _fanout(url: str, subscribers: int, runs: int, rate: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=subscribers + 4)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        automation_id, since = await _create(client, "http-fanout")
        delays: list[float] = []

        def subscriber() -> Any:
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
                tg.start_soon(_follow, client, since, subscriber(), connected)
            for connected in ready:
                await connected.wait()
            for _ in range(runs):
                (await client.post(f"/automation/{automation_id}/run")).raise_for_status()
                await anyio.sleep(1 / rate)
    return {
        "subscribers": subscribers,
        "runs": runs,
        "deliveries": len(delays),
        "commit_to_delivery_ms": latency(delays),
    }


async def _client(url: str, args: argparse.Namespace) -> dict[str, Any]:
    with anyio.fail_after(args.timeout):
        over_http = await _run_now_over_http(url, args.n, args.concurrency)
        fanout = await _fanout(url, args.subscribers, args.fanout_runs, args.rate)
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
            measured = anyio.run(_client, url, args)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    in_process = anyio.run(burst._main, args, backend=args.backend)
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
