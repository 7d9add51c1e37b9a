"""One real server per backend per module: the tests of a module share it, each with
automations of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Server, running_server


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend: str = request.param
    with running_server(tmp_path_factory.mktemp(f"http-{backend}"), backend) as running:
        yield running
