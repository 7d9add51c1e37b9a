"""The tools the MCP server offers: each one's arguments (a msgspec Struct, whose JSON
Schema the client sees) and what it does with a client `Runtime`.

Arguments are decoded with the contract's own checks, so a bad value becomes a
`ValidationError` listing every `(field, message)`, and nothing invalid is stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from ..api import Runtime
from ..model import NewAutomation, NotFound

__all__ = ["TOOLS", "Tool"]


class AutomationId(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    """The automation's id."""


class Ledger(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    """The automation's id."""
    limit: int = 20
    """Runs per page, newest first."""
    cursor: str | None = None
    """The `next` of the previous page."""


class RunId(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    run: str
    """The run's id."""


class Answer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    run: str
    """The run's id."""
    reply: str | bool
    """A string for a question (one of its options, if it has any); true or false for
    a permission."""
    blocker: str | None = None
    """The blocker's id; the one the run waits on when left out."""


class NoArguments(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[msgspec.Struct]
    call: Callable[[Runtime, Any], Awaitable[Any]]


async def _create(rt: Runtime, new: NewAutomation) -> Any:
    return await rt.create(new)


async def _list(rt: Runtime, _: NoArguments) -> Any:
    return await rt.list()


async def _inspect(rt: Runtime, args: AutomationId) -> Any:
    automation = await rt.get(args.id)
    page = await rt.runs(args.id, limit=5)
    return {"automation": automation, "latestRuns": page.items}


async def _run_now(rt: Runtime, args: AutomationId) -> Any:
    return await rt.run_now(args.id)


async def _pause(rt: Runtime, args: AutomationId) -> Any:
    return await rt.pause(args.id)


async def _resume(rt: Runtime, args: AutomationId) -> Any:
    return await rt.resume(args.id)


async def _delete(rt: Runtime, args: AutomationId) -> Any:
    return await rt.delete(args.id)


async def _ledger(rt: Runtime, args: Ledger) -> Any:
    page = await rt.runs(args.id, limit=args.limit, cursor=args.cursor)
    return {"items": page.items, "next": page.next_cursor}


async def _get_run(rt: Runtime, args: RunId) -> Any:
    return await rt.get_run(args.run)


async def _answer(rt: Runtime, args: Answer) -> Any:
    blocker = args.blocker
    if blocker is None:
        waiting = (await rt.get_run(args.run)).blocker
        if waiting is None:
            raise NotFound(f"run {args.run} is not waiting on a blocker")
        blocker = waiting.id
    await rt.answer(args.run, blocker, args.reply)
    return await rt.get_run(args.run)


async def _cancel(rt: Runtime, args: RunId) -> Any:
    return await rt.cancel(args.run)


TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            "create",
            "Create a scheduled automation: a prompt run by a registered executor on a "
            "cron, interval or one-shot schedule. Returns the automation.",
            NewAutomation,
            _create,
        ),
        Tool("list", "List the automations of this project.", NoArguments, _list),
        Tool("inspect", "One automation and its latest runs.", AutomationId, _inspect),
        Tool(
            "run_now",
            "Run an automation now (a worker must serve the database); returns the run.",
            AutomationId,
            _run_now,
        ),
        Tool("pause", "Pause an automation: its slots stop firing.", AutomationId, _pause),
        Tool("resume", "Resume a paused automation.", AutomationId, _resume),
        Tool("delete", "Delete an automation (its runs stay).", AutomationId, _delete),
        Tool("runs", "The run ledger of an automation, newest first.", Ledger, _ledger),
        Tool("get_run", "One run: its state, blocker, result or error.", RunId, _get_run),
        Tool(
            "answer",
            "Answer the question or permission a run waits on; returns the run.",
            Answer,
            _answer,
        ),
        Tool("cancel", "Cancel a run; returns it stopped.", RunId, _cancel),
    )
}
"""Every tool, by name."""
