"""Reading Server-Sent Events the way a browser's EventSource does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Message:
    id: int
    event: str
    data: dict[str, Any]


def messages(response: httpx.Response) -> Iterator[Message]:
    """The messages of a stream, in order (comments and `retry:` skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                yield Message(int(fields["id"]), fields["event"], json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def until(stream: Iterator[Message], done: Any, limit: int = 100_000) -> list[Message]:
    """Messages up to and including the first for which `done(message)` is true."""
    seen: list[Message] = []
    for message in stream:
        seen.append(message)
        if done(message):
            return seen
        assert len(seen) < limit, "the awaited event never came"
    raise AssertionError(f"the stream ended after {len(seen)} messages")


def run_state(message: Message, run_id: str, state: str) -> bool:
    if message.event != "automation.run.updated":
        return False
    run = message.data["run"]
    return bool(run["id"] == run_id and run["state"] == state)
