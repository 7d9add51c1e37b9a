"""Which project and directory a command works on, and what to say when it is empty.

Automations belong to a project and the directory they were added in. A person who
runs `automations ls` in a subdirectory of that directory means the project's: so,
without `--directory`, every command but `add`, `serve` and `demo` works on the
nearest directory at or above the current one that has automations of the project.
`add`, `serve` and `demo` stay in the current directory, and `add` says so when no
worker serves it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import PurePath

from ..api import Runtime, open_runtime
from ..model import AutomationError, Scope
from ._text import printable

__all__ = ["find_scope", "other_scopes", "unserved_warning"]


async def find_scope(args: argparse.Namespace) -> None:
    """Move `args.directory` up to the nearest one with automations of the project."""
    if args.directory_given:
        return
    try:
        async with open_runtime(
            args.db,
            role="client",
            project=args.project,
            directory=args.directory,
            read_only=True,
        ) as rt:
            scopes = await rt.scopes()
    except AutomationError:
        return  # the command itself opens the database and says what is wrong
    known = {scope.directory for scope, _ in scopes if scope.project == args.project}
    here = PurePath(args.directory)
    for candidate in (here, *here.parents):
        if str(candidate) in known:
            args.directory = str(candidate)
            return


def other_scopes(scopes: Sequence[tuple[Scope, int]], here: Scope) -> str:
    """What `ls` says when its scope is empty but others are not."""
    lines = [
        f"no automations in project {printable(here.project)!r} in {printable(here.directory)};"
        " this database has:"
    ]
    for scope, count in scopes:
        project, directory = printable(scope.project), printable(scope.directory)
        lines.append(
            f"  {count} in project {project!r} in {directory}: "
            f"automations --project {project} --directory {directory} ls"
        )
    return "\n".join(lines)


async def unserved_warning(rt: Runtime) -> str | None:
    """A line for `add` when no worker serves the scope (its schedule would not fire)."""
    if await rt.served():
        return None
    directory = printable(rt.scope.directory)
    return (
        f"note: no worker serves project {printable(rt.scope.project)!r} in {directory}, "
        f"so it does not fire yet; start `automations serve` in {directory}"
    )
