"""The client commands: each opens the database as a client and does one thing.

A client never executes: `run` and `cancel` reach the worker (`automations serve`)
through the database, so they work from any terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio
import anyio.abc
import msgspec
from rich.text import Text

from ..api import Runtime
from ..model import Permission, Pruned, Question, Run, RunState
from ._backfill import backfill
from ._executor_check import warn_if_no_worker_has
from ._options import BadInput, new_automation, parse_duration, patch_changes
from ._prompt import read_line
from ._render import (
    Output,
    automation_table,
    automations_table,
    blocker_text,
    describe_event,
    outcome_text,
    runs_table,
    when,
)
from ._scope import other_scopes, unserved_warning
from ._text import printable

__all__ = ["COMMANDS", "Command"]

Command = Callable[[Runtime, argparse.Namespace, Output], Awaitable[int]]


def _now() -> datetime:
    return datetime.now(UTC)


async def add(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    automation = await rt.create(new_automation(args))
    next_fire = when(automation.next_fire_at, automation.timezone, _now())
    title = printable(automation.title)
    out.result(automation, f"created {automation.id} '{title}'; next fire {next_fire}")
    if not out.json and (warning := await unserved_warning(rt)) is not None:
        out.errors.print(Text(warning), soft_wrap=True)
    await warn_if_no_worker_has(rt, automation, out)
    return 0


async def ls(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    automations = await rt.list()
    if out.json:
        out.value(automations)
    elif not automations:
        scopes = await rt.scopes()
        if scopes:
            out.say(other_scopes(scopes, rt.scope))
        else:
            out.say("no automations here yet; add one with: automations add TITLE --every 30m")
    else:
        out.console.print(automations_table(automations, _now()))
    return 0


async def show(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    automation = await rt.get(args.id)
    page = await rt.runs(args.id, limit=5)
    if out.json:
        out.value(automation)
        return 0
    now = _now()
    out.console.print(automation_table(automation, now))
    if page.items:
        out.say(Text("\nlatest runs", style="bold"))
        out.console.print(runs_table(page.items, now))
    return 0


async def edit(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    current = await rt.get(args.id)
    changes = patch_changes(args, current.timezone)
    automation = await rt.update(args.id, expected_revision=args.revision, **changes)
    out.result(automation, f"updated {automation.id} to revision {automation.revision}")
    return 0


async def pause(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    automation = await rt.pause(args.id)
    out.result(automation, f"paused {automation.id}")
    return 0


async def resume(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    automation = await rt.resume(args.id)
    next_fire = when(automation.next_fire_at, automation.timezone, _now())
    out.result(automation, f"resumed {automation.id}; next fire {next_fire}")
    return 0


async def rm(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    tombstone = await rt.delete(args.id)
    out.result(tombstone, f"deleted {tombstone.id}; its runs stay")
    return 0


async def run(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    started = await rt.run_now(args.id)
    if not args.wait:
        out.result(started, f"{started.id} {started.state.value}")
        return 1 if started.state.is_terminal else 0  # terminal at once: skipped
    ended = await _follow(rt, started, out)
    return 0 if ended.state is RunState.SUCCEEDED else 1


async def _follow(rt: Runtime, run: Run, out: Output) -> Run:
    """Print each new state of the run; ask its blockers in the terminal."""
    while True:
        if out.json:
            out.value(run)
        else:
            detail = outcome_text(run)
            line = Text.assemble(f"{run.id} ", (run.state.value, "bold"))
            out.say(line.append(f" {detail}") if detail else line)
        if run.state.is_terminal:
            return run
        if run.state is RunState.AWAITING_INPUT and run.blocker is not None:
            run = await _ask_in_terminal(rt, run, out)
        else:
            run = await rt.wait(run.id, until=RunState.AWAITING_INPUT, newer_than=run.revision)


async def _ask_in_terminal(rt: Runtime, run: Run, out: Output) -> Run:
    """Prompt on a terminal, while also waiting for an answer from anywhere else."""
    assert run.blocker is not None
    blocker = run.blocker
    command = f"automations answer {run.id} REPLY --blocker {blocker.id}"
    hint = f"answer here, or from another terminal: {command}"
    if not sys.stdin.isatty():
        out.say(f"waiting for an answer: {command}")
        return await rt.wait(run.id, until=RunState.AWAITING_INPUT, newer_than=run.revision)
    out.say(hint)
    answered = False
    async with anyio.create_task_group() as tg:

        async def elsewhere(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            task_status.started()
            await rt.wait(run.id, until=RunState.AWAITING_INPUT, newer_than=run.revision)
            tg.cancel_scope.cancel()  # answered elsewhere, or over: stop asking here

        # Started before the prompt shows: a Ctrl-C typed at the prompt cannot land
        # between this task's creation and its first step (a never-awaited warning).
        await tg.start(elsewhere)
        while not answered:
            line = await read_line("> ")
            try:
                reply = parse_reply(blocker.request, line)
            except BadInput as exc:
                out.error(str(exc))
                continue
            await rt.answer(run.id, blocker.id, reply)
            answered = True
            tg.cancel_scope.cancel()
    if not answered:
        out.say("")  # end the prompt's line
    return await rt.wait(run.id, until=RunState.AWAITING_INPUT, newer_than=run.revision)


def parse_reply(request: Question | Permission, text: str) -> str | bool:
    """A typed reply: yes/no for a permission, one of the options for a question."""
    value = text.strip()
    if isinstance(request, Permission):
        lowered = value.lower()
        if lowered in ("y", "yes", "true", "allow"):
            return True
        if lowered in ("n", "no", "false", "deny"):
            return False
        raise BadInput(f"{value!r} is not an answer to a permission; reply yes or no")
    if request.options is not None and value not in request.options:
        raise BadInput(f"{value!r} is not one of the options: {', '.join(request.options)}")
    return value


async def runs(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    page = await rt.runs(args.id, limit=args.limit, cursor=args.cursor)
    if not page.items and args.cursor is None:
        await rt.get(args.id)  # NotFound, unless it exists and has no runs yet
    if out.json:
        out.value(RunPage(items=page.items, next_cursor=page.next_cursor))
        return 0
    if not page.items:
        out.say("no runs")
    else:
        out.console.print(runs_table(page.items, _now()))
    if page.next_cursor is not None:
        out.say(f"more: automations runs {args.id} --cursor {page.next_cursor}")
    return 0


class RunPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A page of the ledger on the wire."""

    items: list[Run]
    next_cursor: str | None


async def answer(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    """Answer the question the run waits on now, or with `--blocker` only that one: a
    command repeated after the run moved on must not answer its next question."""
    run = await rt.get_run(args.run)
    blocker = run.blocker if run.state is RunState.AWAITING_INPUT else None
    if blocker is None or args.blocker not in (None, blocker.id):
        now = f"it is {run.state.value}" + ("" if blocker is None else f" on {blocker.id}")
        which = "for an answer" if args.blocker is None else f"on {args.blocker}"
        raise BadInput(f"run {run.id} is not waiting {which} ({now}); nothing was answered")
    text = args.reply
    if text is None:
        if not sys.stdin.isatty():
            raise BadInput(f"give the reply: automations answer {run.id} REPLY")
        out.say(blocker_text(blocker.request))
        text = await read_line("> ")
    reply = parse_reply(blocker.request, text)
    await rt.answer(run.id, blocker.id, reply)
    out.result(reply, f"answered {run.id} {blocker.id} ({blocker_text(blocker.request)}): {reply}")
    return 0


async def cancel(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    before = await rt.get_run(args.run)
    run = before if before.state.is_terminal else await rt.cancel(args.run)
    said = f"{run.id} {run.state.value} {outcome_text(run)}".rstrip()
    if before.state.is_terminal:
        said = f"{said}; it had ended already: nothing was cancelled"
    out.result(run, said)
    return 0


async def events(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    """Replay from `--since`, then follow live (or stop at the head with --no-follow)."""
    head = None if args.follow else await rt.last_event_seq()
    if head is not None and head <= args.since:
        return 0
    async with rt.events(args.since) as stream:
        async for event in stream:
            out.result(event, describe_event(event))
            if head is not None and event.seq >= head:
                break
    return 0


async def prune(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    age = parse_duration(args.older_than, "--older-than")
    if out.json or not out.console.is_terminal:
        pruned = await rt.prune(older_than=age)
    else:
        with out.console.status("pruning the ledger") as status:

            def show(so_far: Pruned) -> None:
                status.update(f"pruning: {so_far.runs} runs, {so_far.entries} journal entries")

            pruned = await rt.prune(older_than=age, progress=show)
    text = (
        f"forgot {pruned.runs} runs and {pruned.entries} journal entries"
        f" older than {args.older_than}"
    )
    out.result(pruned, text)
    return 0


COMMANDS: dict[str, Command] = {
    "add": add,
    "ls": ls,
    "show": show,
    "edit": edit,
    "pause": pause,
    "resume": resume,
    "rm": rm,
    "run": run,
    "backfill": backfill,
    "runs": runs,
    "answer": answer,
    "cancel": cancel,
    "events": events,
    "prune": prune,
}
