"""OpenAI Agents SDK agents driven by a scripted `Model`: no network, no keys.

The model's answer is derived from the input items alone (which tools returned what),
so a run resumed in another process gets the same answers. Tools append to an
effects file (see `scripted_pydantic.record`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
from agents import Agent, RunConfig, function_tool
from agents.items import ModelResponse, TResponseInputItem, TResponseOutputItem
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.usage import Usage

from .scripted_pydantic import record

RUN_CONFIG = RunConfig(tracing_disabled=True)
"""No trace export: the tests never reach the network."""

Script = Callable[[list[TResponseInputItem]], list[TResponseOutputItem]]


class ScriptModel(Model):
    """A model whose response is `script(input items)`, using ten tokens a call."""

    def __init__(self, script: Script) -> None:
        self.script = script

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        items = kwargs["input"] if "input" in kwargs else args[1]
        output = self.script([] if isinstance(items, str) else list(items))
        usage = Usage(requests=1, input_tokens=6, output_tokens=4, total_tokens=10)
        return ModelResponse(output=output, usage=usage, response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the scripted model does not stream")


def _returned(items: list[TResponseInputItem]) -> dict[str, str]:
    """Each tool's output, by tool name."""
    names: dict[str, str] = {}
    found: dict[str, str] = {}
    for entry in items:
        if not isinstance(entry, dict):
            continue
        item: dict[str, Any] = dict(entry)  # one of many TypedDicts: read it as a dict
        if item.get("type") == "function_call":
            names[str(item["call_id"])] = str(item["name"])
        elif item.get("type") == "function_call_output":
            found[names[str(item["call_id"])]] = str(item["output"])
    return found


def approval_agent(effects_file: Path) -> Agent[Any]:
    """Writes a note, then asks to delete a file (`needs_approval`), then reports what
    the delete returned."""

    def script(items: list[TResponseInputItem]) -> list[TResponseOutputItem]:
        returned = _returned(items)
        if "write_note" not in returned:
            return [function_call("write_note", {"text": "hello"}, call_id="call-note")]
        if "delete" not in returned:
            return [function_call("delete", {"path": "x"}, call_id="call-delete")]
        return [assistant_message(f"the delete said: {returned['delete']}")]

    @function_tool
    def write_note(text: str) -> str:
        record(effects_file, f"note {text}")
        return "noted"

    @function_tool(needs_approval=True)
    def delete(path: str) -> str:
        record(effects_file, f"delete {path}")
        return f"deleted {path}"

    return Agent(name="tidy", model=ScriptModel(script), tools=[write_note, delete])


def looping_agent(effects_file: Path) -> Agent[Any]:
    """Calls its tool again and again, never answering."""

    def script(items: list[TResponseInputItem]) -> list[TResponseOutputItem]:
        return [function_call("again", {}, call_id=f"call-{len(items)}")]

    @function_tool
    def again() -> str:
        record(effects_file, "again")
        return "once more"

    return Agent(name="loop", model=ScriptModel(script), tools=[again])


class HangingModel(ScriptModel):
    """A model that never answers until cancelled; `started` is set when it is called,
    `cancelled` when the cancel reached it."""

    def __init__(self) -> None:
        super().__init__(lambda items: [])
        self.started = anyio.Event()
        self.cancelled = False

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self.started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            raise
        raise AssertionError("unreachable")
