"""`automations migrate --from SOURCE --to TARGET`: move a store, with a progress bar.

Any store to any store (a SQLite file or a `postgresql://` URL on either side); see
`persistence.copy_store` for what is copied, what is refused and how it is verified.
"""

from __future__ import annotations

import argparse

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..persistence import copy_store, display_location
from ._options import BadInput
from ._render import Output, make_console
from ._text import printable

__all__ = ["migrate", "migrate_options"]


def migrate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="source", required=True, metavar="DB", help="the store to copy"
    )
    parser.add_argument(
        "--to", dest="target", required=True, metavar="DB", help="an empty store to copy into"
    )
    parser.add_argument(
        "--batch", type=int, default=1_000, help="journal entries per write (default 1000)"
    )


async def migrate(args: argparse.Namespace, out: Output) -> int:
    if args.batch < 1:
        raise BadInput(f"--batch {args.batch} must be at least 1")
    source, target = display_location(args.source), display_location(args.target)
    console = make_console(stderr=True)
    bar = Progress(
        TextColumn("copying the journal"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=out.json or not console.is_terminal,  # a bar only for a person watching
        transient=True,
    )
    task = bar.add_task("journal", total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        copied = await copy_store(args.source, args.target, batch=args.batch, progress=advance)
    if out.json:
        out.value(copied)
        return 0
    counts = ", ".join(f"{rows} {table}" for table, rows in copied.rows.items())
    out.console.print(
        Text(
            f"copied {printable(source)} to {printable(target)}: {copied.entries} journal "
            f"entries, replayed and verified ({counts})"
        ),
        soft_wrap=True,
    )
    out.say("start the workers on the new store; the old one is left as it was")
    return 0
