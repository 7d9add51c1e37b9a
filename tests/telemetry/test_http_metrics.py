"""`GET /metrics` in the HTTP app: there when the runtime has metrics, behind the
app's token like every other route, absent otherwise."""

from __future__ import annotations

import httpx
import pytest

from automations.http import create_app
from automations.telemetry import Metrics

from ..integration.conftest import OpenRuntime

pytestmark = pytest.mark.anyio


async def test_metrics_are_served_behind_the_token(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory(metrics=Metrics()) as rt:
        transport = httpx.ASGITransport(app=create_app(rt, token="t0ken"))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            assert (await client.get("/metrics")).status_code == 401
            headers = {"Authorization": "Bearer t0ken"}
            response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.content.startswith(b"# HELP ")
    held = 'automations_lease_held{directory="/repo/a",project="project-a"} 1.0'
    assert held in response.text


async def test_no_metrics_no_route(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        transport = httpx.ASGITransport(app=create_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            response = await client.get("/metrics")
    assert response.status_code == 404
