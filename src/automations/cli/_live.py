"""The live view of `serve` and `demo`: automations, runs and events as they happen.

On a terminal it is a rich display redrawn as events arrive (and every second, so
"in 12s" counts down); elsewhere (a pipe, a log file, a test) it prints one line per
event, which is what a log wants.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.live import Live
from rich.text import Text

from ..api import Runtime
from ..model import Automation, DefinitionDeleted, DefinitionUpdated, Event, Run, RunUpdated
from ._compact import compact_automations, compact_runs, short_ids, shorten_ids
from ._render import Output, describe_event
from ._text import printable

__all__ = ["LiveView", "follow_events"]

_RUNS_SHOWN = 12
_EVENTS_SHOWN = 6


class LiveView:
    """What the view shows, kept current from the events."""

    def __init__(self, heading: str) -> None:
        self.heading = heading
        self.status = ""
        self.automations: dict[str, Automation] = {}
        self.runs: OrderedDict[str, Run] = OrderedDict()
        self.log: deque[str] = deque(maxlen=_EVENTS_SHOWN)

    async def load(self, rt: Runtime) -> None:
        for automation in await rt.list():
            self.automations[automation.id] = automation

    def apply(self, event: Event) -> None:
        if isinstance(event, DefinitionUpdated):
            self.automations[event.automation.id] = event.automation
        elif isinstance(event, DefinitionDeleted):
            self.automations.pop(event.tombstone.id, None)
        elif isinstance(event, RunUpdated):
            self.runs.pop(event.run.id, None)
            self.runs[event.run.id] = event.run
            while len(self.runs) > _RUNS_SHOWN:
                self.runs.popitem(last=False)
        self.log.append(describe_event(event, live=True))

    def __rich__(self) -> RenderableType:
        now = datetime.now(UTC)
        automations = sorted(
            self.automations.values(), key=lambda a: (a.next_fire_at is None, a.next_fire_at)
        )
        titles = {a.id: a.title for a in self.automations.values()}
        runs = list(reversed(self.runs.values()))
        shown = short_ids([*self.automations, *self.runs])
        return Group(
            Text(
                f"{now.astimezone():%H:%M:%S}  {printable(self.heading)}",
                style="bold",
                no_wrap=True,
                overflow="ellipsis",
            ),
            Text(self.status, style="dim", no_wrap=True, overflow="ellipsis"),
            Text(""),
            compact_automations(automations, now, shown)
            if automations
            else Text("no automations yet; add one: automations add TITLE --every 30m"),
            Text(""),
            compact_runs(runs, now, titles, shown) if runs else Text("no runs yet"),
            Text(""),
            *(
                Text(shorten_ids(line, shown), style="dim", no_wrap=True, overflow="ellipsis")
                for line in self.log
            ),
        )


async def follow_events(rt: Runtime, out: Output, view: LiveView, since: int | None = None) -> None:
    """Show events after `since` (default: from now on) until cancelled: live on a
    terminal, as lines elsewhere."""
    await view.load(rt)
    if since is None:
        since = await rt.last_event_seq()
    live = out.console.is_terminal and not out.json
    async with rt.events(since) as stream:
        if not live:
            async for event in stream:
                view.apply(event)
                if out.json:
                    out.value(event)
                else:
                    out.say(view.log[-1])
            return
        with Live(view, console=out.console, refresh_per_second=2, screen=False) as display:
            async for event in stream:
                view.apply(event)
                display.refresh()
