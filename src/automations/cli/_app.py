"""The `automations` command: arguments, dispatch, and exit codes.

Exit codes: 0 ok; 1 failed (bad input, not found, a conflict, no worker, or a run
that did not succeed under `run --wait`); 2 a malformed command line. Errors are one
line on stderr, never a traceback, and bad input changes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import anyio

from ..actors import DEFAULT_MAX_SCHEDULED_RUNS
from ..api import open_runtime
from ..executors import DEFAULT_COMMAND_TIMEOUT
from ..persistence import is_url
from ._commands import COMMANDS, Command
from ._doctor import doctor, doctor_options
from ._failures import error_json, expected_error, one_line
from ._ids import resolve_ids
from ._migrate import migrate, migrate_options
from ._observe import LOG_LEVELS
from ._options import BadInput
from ._render import Output
from ._run_info import run_info
from ._scope import find_scope
from ._serve import demo, serve
from ._workers import workers

__all__ = ["build_parser", "main"]

_DEFAULT_DB = "automations.db"


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    s = argparse.SUPPRESS  # set only when given, so either place works
    common.add_argument(
        "--db", default=s, help="database file or postgresql:// URL (or $AUTOMATIONS_DB)"
    )
    common.add_argument("--project", default=s, help="project scope (or $AUTOMATIONS_PROJECT)")
    common.add_argument("--directory", default=s, help="owner directory scope (default: cwd)")
    common.add_argument("--json", action="store_true", default=s, help="print wire JSON")
    return common


def _schedule_options(parser: argparse.ArgumentParser, *, editing: bool) -> None:
    if editing:
        parser.add_argument("--title")
    parser.add_argument("--cron", help="five-field cron, e.g. '0 9 * * 1-5'")
    parser.add_argument("--every", help="an interval, e.g. 30s, 15m, 1h")
    parser.add_argument("--start", help="first slot of --every (ISO date-time)")
    parser.add_argument("--at", help="a one-shot time (ISO date-time)")
    parser.add_argument("--timezone", help="IANA timezone (default: this machine's)")
    parser.add_argument(
        "--prompt", help="what the agent is asked (default: the title; -: read standard input)"
    )
    parser.add_argument("--prompt-file", metavar="PATH", help="read the prompt from a file")
    parser.add_argument("--executor", help="registered executor (default: demo)")
    parser.add_argument("--count", type=int, help="stop after N executed runs (0: never)")
    parser.add_argument("--retry", type=int, metavar="N", help="retry a failed run N times (0: no)")
    parser.add_argument(
        "--backoff", metavar="FIRST[..MAX]", help="between retries, doubling: 30s..10m (10s..10m)"
    )
    parser.add_argument("--overlap", choices=["skip", "buffer_one", "cancel_other", "allow"])
    parser.add_argument("--catchup", choices=["none", "latest"])
    parser.add_argument("--catchup-window", help="how late a slot may fire (default 60s)")
    parser.add_argument("--anchor", choices=["slot", "completion"])
    parser.add_argument("--context", choices=["fresh", "continue"])
    parser.add_argument("--unattended", choices=["fail", "reject", "wait"])
    parser.add_argument("--blocker-timeout", help="with --unattended wait, e.g. 10m")
    parser.add_argument("--max-duration", help="a run's time limit, e.g. 15m")
    parser.add_argument("--step-cap", type=int, help="steps a run may take (default 50)")
    parser.add_argument(
        "--jitter", help="start each slot up to this much later, spread per automation, e.g. 30s"
    )
    parser.add_argument(
        "--worktree", help="what runs write to; one run at a time per worktree (or project)"
    )


def _version() -> str:
    try:
        return version("automations")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="automations",
        description="Scheduled agent automations with a durable ledger.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"automations {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, parents=[common])

    serve = command("serve", "run a worker in the foreground, with a live view")
    serve.add_argument(
        "--executor",
        action="append",
        default=[],
        metavar="NAME=MODULE:FUNCTION",
        help="register a Python executor (repeatable)",
    )
    serve.add_argument("--allow-command", action="store_true", help="enable `command`")
    serve.add_argument(
        "--command-timeout",
        metavar="DURATION",
        default=f"{DEFAULT_COMMAND_TIMEOUT:g}s",
        help="how long `command` may run, e.g. 30s or 5m (default %(default)s)",
    )
    serve.add_argument(
        "--retention", metavar="AGE", help="forget runs that ended longer ago, e.g. 30d"
    )
    serve.add_argument(
        "--http", metavar="HOST:PORT", help="also serve the HTTP API, e.g. 127.0.0.1:8765"
    )
    serve.add_argument("--token", help="bearer token for --http (or $AUTOMATIONS_TOKEN)")
    serve.add_argument(
        "--cors-origin", action="append", default=[], metavar="ORIGIN", help="(repeatable)"
    )
    serve.add_argument(
        "--max-scheduled-runs",
        metavar="N",
        default=str(DEFAULT_MAX_SCHEDULED_RUNS),
        help="scheduled runs going on at once (default %(default)s; none: no bound)",
    )
    serve.add_argument(
        "--all-scopes",
        action="store_true",
        help="serve every project and directory, sharing them with the other such workers",
    )
    serve.add_argument(
        "--metrics", metavar="HOST:PORT", help="serve Prometheus metrics, e.g. 127.0.0.1:9464"
    )
    serve.add_argument("--log-format", choices=("text", "json"), default="text")
    serve.add_argument("--log-level", choices=LOG_LEVELS, default="warning")

    add = command("add", "create an automation")
    add.add_argument("title")
    _schedule_options(add, editing=False)
    add.add_argument("--paused", action="store_true", help="create it paused")

    command("ls", "list automations")
    for name, text in (("show", "show one automation"), ("pause", "pause an automation")):
        command(name, text).add_argument("id")
    command("resume", "resume a paused automation").add_argument("id")
    command("rm", "delete an automation (its runs stay)").add_argument("id")

    edit = command("edit", "change an automation")
    edit.add_argument("id")
    _schedule_options(edit, editing=True)
    edit.add_argument("--revision", type=int, help="only if still at this revision")

    run = command("run", "run an automation now (needs a running `serve`)")
    run.add_argument("id")
    run.add_argument("--wait", action="store_true", help="follow it; answer its questions")

    backfill = command("backfill", "run the past slots of a range that have no run yet")
    backfill.add_argument("id")
    backfill.add_argument("--from", dest="start", required=True, metavar="WHEN")
    backfill.add_argument(
        "--to", dest="end", metavar="WHEN", help="end of the range, excluded (default: now)"
    )
    backfill.add_argument("--overlap", choices=["skip", "buffer_one", "cancel_other", "allow"])

    runs = command("runs", "the ledger of an automation, newest first")
    runs.add_argument("id")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--cursor", help="continue after this run")

    answer = command("answer", "answer the question a run is waiting on")
    answer.add_argument("run")
    answer.add_argument("reply", nargs="?", help="the reply (asked for when omitted)")
    answer.add_argument(
        "--blocker",
        metavar="ID",
        help="answer only this question (a repeated command then answers nothing else)",
    )

    command("cancel", "cancel a run").add_argument("run")
    info = command("run-info", "one run: its timeline of transitions and its traceback")
    info.add_argument("run")

    events = command("events", "the event log, then new events as they come")
    events.add_argument("--since", type=int, default=0, help="after this sequence number")
    events.add_argument("--no-follow", dest="follow", action="store_false")

    prune = command("prune", "forget runs that ended longer ago than an age")
    prune.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d or 12h")

    command("workers", "the live worker processes of the database, their load and leases")
    command("mcp", "serve these automations to an agent over MCP (stdio)")
    doctor_options(command("doctor", "examine the database; say what is wrong and what to do"))
    migrate_options(command("migrate", "copy every automation and run into another, empty store"))

    demo = command(
        "demo",
        "a one-minute tour on a new database (automations-demo.db, or a --db that does not"
        " exist yet; never $AUTOMATIONS_DB)",
    )
    demo.add_argument("--seconds", type=float, default=60.0, help="how long it runs (default 60)")
    return parser


def _resolve(args: argparse.Namespace) -> None:
    """Fill the common options from the environment and defaults."""
    args.db_on_command_line = hasattr(args, "db")
    args.db_given = args.db_on_command_line or "AUTOMATIONS_DB" in os.environ
    if not hasattr(args, "db"):
        args.db = os.environ.get("AUTOMATIONS_DB", _DEFAULT_DB)
    if not hasattr(args, "project"):
        args.project = os.environ.get("AUTOMATIONS_PROJECT", "default")
    args.directory_given = hasattr(args, "directory")
    if not args.directory_given:
        args.directory = os.getcwd()
    if not hasattr(args, "json"):
        args.json = False


READ_ONLY = frozenset({"ls", "show", "runs", "events", "run-info"})
"""Commands that open the database read-only: they work on a read-only copy."""
CREATING = frozenset({"add", "serve", "demo"})
"""Commands that create a missing database; every other one says it is missing."""


async def _dispatch(args: argparse.Namespace, out: Output) -> int:
    if args.command == "serve":
        return await serve(args, out)
    if args.command == "demo":
        return await demo(args, out)
    if args.command == "mcp":
        return await _mcp(args)
    if args.command == "doctor":
        return await doctor(args, out)
    if args.command == "migrate":
        return await migrate(args, out)
    await _find_database(args)
    async with open_runtime(
        args.db,
        role="client",
        project=args.project,
        directory=args.directory,
        read_only=args.command in READ_ONLY,
    ) as rt:
        await resolve_ids(rt, args)
        handler = _HANDLERS.get(args.command) or COMMANDS[args.command]
        return await handler(rt, args, out)


_HANDLERS: dict[str, Command] = {"run-info": run_info, "workers": workers}
"""Commands of their own modules (the others are `COMMANDS`)."""


async def _find_database(args: argparse.Namespace) -> None:
    """Refuse a database that is not there (read commands never create one), and find
    the scope from the directory the command runs in."""
    if (
        args.command not in CREATING
        and not is_url(args.db)  # a postgresql:// URL: the server says what is missing
        and not await anyio.to_thread.run_sync(os.path.exists, args.db)
    ):
        raise BadInput(
            f"no database at {args.db}; check --db and $AUTOMATIONS_DB "
            "(only add, serve and demo create one)"
        )
    if args.command not in CREATING:
        await find_scope(args)


async def _mcp(args: argparse.Namespace) -> int:
    from ..mcp_server import serve_stdio  # the MCP SDK is an extra: say so first

    await _find_database(args)
    return await serve_stdio(args.db, project=args.project, directory=args.directory)


def _failed(error: BaseException, out: Output) -> int:
    """The exit code of a command that raised `error`, after one line about it."""
    if isinstance(error, BaseExceptionGroup):
        for kind in (KeyboardInterrupt, BrokenPipeError):
            found, rest = error.split(kind)
            if found is not None and rest is None:
                error = kind()
                break
    if isinstance(error, KeyboardInterrupt):
        sys.stderr.write("\ninterrupted\n")
        return 130
    if isinstance(error, BrokenPipeError):
        # The reader went away (`| head`): say nothing more, and let nothing flush there.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    expected = expected_error(error)
    if expected is None:
        raise error
    if out.json:
        sys.stderr.write(error_json(expected) + "\n")
    else:
        out.error(one_line(expected))
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the process exit code."""
    args = build_parser().parse_args(argv)
    _resolve(args)
    out = Output(json=args.json)
    try:
        backend = os.environ.get("AUTOMATIONS_BACKEND", "asyncio")
        code: int = anyio.run(_dispatch, args, out, backend=backend)
    except BaseException as error:  # each kind is decided in _failed
        return _failed(error, out)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
