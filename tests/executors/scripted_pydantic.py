"""PydanticAI agents driven by a scripted `FunctionModel`: no network, no keys.

Each tool appends a line to an effects file, so a test (or a crash test across
processes) counts how often a tool really ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import Agent, ApprovalRequired, RunContext
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel


def effects(path: Path) -> list[str]:
    """The lines the tools wrote, in order."""
    return path.read_text().splitlines() if path.exists() else []


def _returned(messages: list[ModelMessage]) -> dict[str, str]:
    """Each tool's last return, by tool name, over the whole history."""
    found: dict[str, str] = {}
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    found[part.tool_name] = part.model_response_str()
    return found


def approval_agent(effects_file: Path) -> Agent[None, str]:
    """Writes a note, then asks to delete a file (needs approval), then reports what
    the delete returned: "deleted x", or the denial it was given."""

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returned = _returned(messages)
        if "write_note" not in returned:
            return ModelResponse(parts=[ToolCallPart("write_note", {"text": "hello"})])
        if "delete" not in returned:
            return ModelResponse(parts=[ToolCallPart("delete", {"path": "x"})])
        return ModelResponse(parts=[TextPart(f"the delete said: {returned['delete']}")])

    agent = Agent(FunctionModel(script), output_type=str)

    @agent.tool_plain
    def write_note(text: str) -> str:
        record(effects_file, f"note {text}")
        return "noted"

    @agent.tool_plain(requires_approval=True)
    def delete(path: str) -> str:
        record(effects_file, f"delete {path}")
        return f"deleted {path}"

    return agent


def looping_agent(effects_file: Path) -> Agent[None, str]:
    """Calls its tool again and again, never answering."""

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart("again", {})])

    agent = Agent(FunctionModel(script), output_type=str)

    @agent.tool_plain
    def again() -> str:
        record(effects_file, "again")
        return "once more"

    return agent


class Hanging:
    """An agent whose model never answers until cancelled; `started` is set when the
    request is sent, `cancelled` when the cancel reached it."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.cancelled = False

        async def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            self.started.set()
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                self.cancelled = True
                raise
            raise AssertionError("unreachable")

        self.agent: Agent[None, str] = Agent(FunctionModel(script), output_type=str)


def record(effects_file: Path, line: str) -> None:
    with effects_file.open("a") as file:
        file.write(line + "\n")


def conditional_agent(effects_file: Path) -> Agent[None, str]:
    """Asks to remove two paths in one response; its tool needs approval only outside
    /tmp (it raises `ApprovalRequired`)."""

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returned = [
            part.model_response_str()
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, ToolReturnPart)
        ]
        if not returned:
            calls = [ToolCallPart("remove", {"path": p}) for p in ("/tmp/a", "/etc/b", "/srv/c")]
            return ModelResponse(parts=calls)
        return ModelResponse(parts=[TextPart(" | ".join(returned))])

    agent = Agent(FunctionModel(script), output_type=str)

    @agent.tool
    def remove(ctx: RunContext[Any], path: str) -> str:
        if not path.startswith("/tmp/") and not ctx.tool_call_approved:
            raise ApprovalRequired
        record(effects_file, f"remove {path}")
        return f"removed {path}"

    return agent
