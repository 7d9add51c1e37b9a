"""`automations run-info RUN`: one run, its timeline of transitions from the journal,
and, for an executor that raised, its traceback: finding out why a run failed."""

from __future__ import annotations

import argparse
from datetime import datetime

from rich.text import Text

from ..api import Runtime
from ..model import NotFound, Run, RunState
from ._render import Output, outcome_text
from ._text import printable

__all__ = ["run_info"]


def _at(instant: datetime | None) -> str:
    if instant is None:
        return "-"
    return instant.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


async def run_info(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    run = await rt.get_run(args.run)
    history = await rt.run_history(run.id)
    if out.json:
        timeline = [{"at": at, "run": revision} for at, revision in history]
        out.value({"run": run, "timeline": timeline})
        return 0
    try:
        title = "'" + printable((await rt.get(run.automation_id)).title) + "'"
    except NotFound:
        title = "(deleted)"
    out.say(Text(f"run {run.id} of {run.automation_id} {title}"))
    for label, value in _fields(run):
        out.say(Text(f"  {label:<10} {value}"))
    out.say(Text("timeline:"))
    if not history:
        out.say(Text("  (pruned from the journal)"))
    for at, revision in history:
        why = "" if revision.state is RunState.RUNNING else outcome_text(revision)
        line = f"  {_at(at)}  r{revision.revision:<3} {revision.state.value:<15} {printable(why)}"
        out.say(Text(line.rstrip()))
    trace = run.error.traceback if run.error is not None else None
    if trace:
        out.say(Text("traceback:"))
        out.say(Text("\n".join(printable(line) for line in trace.rstrip("\n").split("\n"))))
    return 0


def _fields(run: Run) -> list[tuple[str, str]]:
    fields = [
        ("state", run.state.value),
        ("why", printable(outcome_text(run)) or "-"),
        ("trigger", f"{run.trigger.value}, {'attended' if run.attended else 'unattended'}"),
        ("triggered", _at(run.triggered_at)),
        ("started", _at(run.started_at)),
        ("completed", _at(run.completed_at)),
        ("steps", str(run.steps)),
        ("cost", "-" if run.cost is None else f"{run.cost:g}"),
    ]
    if run.session_id is not None:
        fields.append(("session", printable(run.session_id)))
    if run.retry_of is not None:
        fields.append(("attempt", f"{run.attempt}, retrying run {run.retry_of}"))
    if run.held_by is not None:
        held = run.held_by
        fields.append(("held by", f"run {held.run_id} of {held.automation_id} ({held.state})"))
    return fields
