"""The app in-process, on the test's backend: embedded in a user's Starlette under a
prefix, and the event stream's handling of a client that stops reading and of a
server that stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message

from automations import open_runtime
from automations.http import EventsEndpoint, close_streams, create_app

pytestmark = pytest.mark.anyio

DRAFT = {
    "title": "Embedded",
    "prompt": "p",
    "timezone": "UTC",
    "schedule": {"type": "cron", "expression": "0 9 * * *"},
}


async def test_without_a_token_only_loopback_or_named_hosts_are_served(tmp_path: Path) -> None:
    async with open_runtime(tmp_path / "h.db", directory=str(tmp_path)) as rt:
        for hosts, expected in (((), 403), (["app"], 200)):
            transport = httpx.ASGITransport(app=create_app(rt, hosts=hosts))
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                assert (await client.get("/automation")).status_code == expected


async def test_mounted_under_a_prefix_in_a_users_app(tmp_path: Path) -> None:
    async with open_runtime(tmp_path / "a.db", directory=str(tmp_path)) as rt:
        outer = Starlette(routes=[Mount("/automations", app=create_app(rt, token="t0ken"))])
        transport = httpx.ASGITransport(app=outer)
        headers = {"Authorization": "Bearer t0ken"}
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            created = await client.post("/automations/automation", json=DRAFT, headers=headers)
            assert created.status_code == 200, created.text
            listed = await client.get("/automations/automation", headers=headers)
            assert [a["id"] for a in listed.json()] == [created.json()["id"]]
            assert (await client.get("/automations/automation")).status_code == 401
            page = await client.get("/automations/")  # the console: no data, no token
            assert page.status_code == 200 and "<title>automations</title>" in page.text
            assert (await client.get("/automations/static/index.html")).status_code == 200
        assert (await rt.get(created.json()["id"])).title == "Embedded"


def _scope(query: bytes = b"since=0") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/automation/events",
        "raw_path": b"/automation/events",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1")],
        "root_path": "",
    }


async def _never_disconnects() -> Message:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


async def test_a_client_that_stops_reading_is_dropped_not_waited_for(tmp_path: Path) -> None:
    async with open_runtime(tmp_path / "b.db", directory=str(tmp_path)) as rt:
        endpoint = EventsEndpoint(rt, keepalive=60, send_timeout=0.2)
        sent: list[Message] = []

        async def stuck(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body":
                await anyio.sleep_forever()  # a full socket buffer, forever

        with anyio.fail_after(10):
            await endpoint(_scope(), _never_disconnects, stuck)
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


async def test_a_stopping_server_ends_each_open_stream_properly(tmp_path: Path) -> None:
    async with open_runtime(tmp_path / "c.db", directory=str(tmp_path)) as rt:
        app = create_app(rt, keepalive=0.05)
        sent: list[Message] = []
        connected = anyio.Event()

        async def send(message: Message) -> None:
            sent.append(message)
            if b"keep-alive" in message.get("body", b""):
                connected.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(app, _scope(), _never_disconnects, send)
                await connected.wait()  # it is live, and idle long enough for a keep-alive
                close_streams(app)
        assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_streams_beyond_the_bound_are_503(tmp_path: Path) -> None:
    async with open_runtime(tmp_path / "d.db", directory=str(tmp_path)) as rt:
        endpoint = EventsEndpoint(rt, keepalive=60, send_timeout=5, max_streams=1)
        first: list[Message] = []
        second: list[Message] = []
        live = anyio.Event()

        async def send_first(message: Message) -> None:
            first.append(message)
            live.set()

        async def send_second(message: Message) -> None:
            second.append(message)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(endpoint, _scope(), _never_disconnects, send_first)
                await live.wait()
                await endpoint(_scope(), _never_disconnects, send_second)
                endpoint.close_all()
        assert second[0]["status"] == 503
        assert b"too_many_streams" in second[1]["body"]
