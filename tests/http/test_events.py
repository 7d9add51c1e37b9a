"""The event stream across a reconnect: a client dropped in the middle of a burst of
1,000 runs comes back with `Last-Event-ID` and receives every event exactly once, in
order; a replay from the journal is the same sequence."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .harness import Server
from .sse import Message, messages
from .test_routes import create

RUNS = 1_000
POSTERS = 4


def _post_runs(server: Server, automation_id: str, count: int, posted: list[str]) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(count):
            response = client.post(f"/automation/{automation_id}/run")
            assert response.status_code == 200, response.text
            posted.append(response.json()["id"])


def _read(server: Server, headers: dict[str, str], stop: int | None, limit: int) -> list[Message]:
    """Messages until the one with id `stop`, or `limit` of them."""
    seen: list[Message] = []
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("GET", "/automation/events", headers=headers) as response,
    ):
        assert response.status_code == 200
        for message in messages(response):
            seen.append(message)
            if message.id == stop or len(seen) >= limit:
                break
    return seen


def test_a_client_dropped_during_a_burst_gets_every_event_once_in_order(server: Server) -> None:
    client = server.client()
    automation = create(client, "Burst", overlap="allow")
    since = int(client.get("/automation").headers["x-event-seq"])

    posted: list[str] = []
    with ThreadPoolExecutor(POSTERS) as pool:
        burst = [
            pool.submit(_post_runs, server, automation["id"], RUNS // POSTERS, posted)
            for _ in range(POSTERS)
        ]
        first = _read(server, {"Last-Event-ID": str(since)}, None, limit=300)
        assert len(posted) < RUNS, "the client was to be dropped during the burst"
        # Dropped: the burst goes on without this client; it comes back a little later.
        deadline = time.monotonic() + 60
        while len(posted) < RUNS // 2 and not all(f.done() for f in burst):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for future in burst:
            future.result()
    assert len(posted) == RUNS

    runs = set(posted)
    ended: set[str] = set()
    deadline = time.monotonic() + 120
    while True:  # every run has ended: the journal's head is then final for them
        head = int(client.get("/automation").headers["x-event-seq"])
        states = {}
        for run_id in runs - ended:
            states[run_id] = client.get(f"/automation/runs/{run_id}").json()["state"]
        ended |= {r for r, s in states.items() if s in {"succeeded", "failed", "stopped"}}
        if ended == runs:
            head = int(client.get("/automation").headers["x-event-seq"])
            break
        assert time.monotonic() < deadline, f"{len(runs - ended)} runs still going"
        time.sleep(0.05)

    second = _read(server, {"Last-Event-ID": str(first[-1].id)}, head, limit=100_000)
    received = first + second
    ids = [m.id for m in received]
    assert ids == list(range(since + 1, head + 1)), "a gap, a duplicate or a reordering"

    terminal = {
        m.data["run"]["id"]
        for m in received
        if m.event == "automation.run.updated" and m.data["run"]["state"] == "succeeded"
    }
    assert terminal == runs
    assert all(m.data["seq"] == m.id for m in received)

    from_journal = _read_since(server, since, head)
    assert [(m.id, m.event, m.data) for m in from_journal] == [
        (m.id, m.event, m.data) for m in received
    ]


def _read_since(server: Server, since: int, head: int) -> list[Message]:
    seen: list[Message] = []
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("GET", "/automation/events", params={"since": since}) as response,
    ):
        for message in messages(response):
            seen.append(message)
            if message.id == head:
                break
    return seen
