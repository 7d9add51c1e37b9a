"""`automations serve` and `automations demo`: a worker in the foreground.

Ctrl-C (or SIGTERM) closes the runtime cleanly: runs waiting on a question with a
resumable executor are left for the next worker, every other active run is stopped
with a recorded reason (`worker_stopped`) before the process exits, and `serve` says
which.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
from datetime import UTC, datetime, timedelta

import anyio

from ..actors import Executor
from ..api import Runtime, open_runtime
from ..executors import command_executor, demo_executor, load_executor
from ..model import Cron, Interval, NewAutomation, RunState, ValidationError, Where
from ..persistence import display_location, is_url, remove_store
from ..runtime import unwrapping_groups
from ._live import LiveView, follow_events
from ._observe import logs_to_stderr, metrics_for, metrics_served
from ._options import BadInput, parse_duration, parse_limit
from ._render import Output, runs_table
from ._role import role_text, watch_role
from ._text import printable

__all__ = ["demo", "serve"]


def executors_for(args: argparse.Namespace) -> dict[str, Executor]:
    """The built-in `demo`, `command` when allowed, and `--executor` callables."""
    executors: dict[str, Executor] = {"demo": demo_executor()}
    if args.allow_command:
        timeout = parse_duration(args.command_timeout, "--command-timeout").total_seconds()
        if not timeout > 0:
            raise BadInput(f"--command-timeout {args.command_timeout!r}: give a positive duration")
        executors["command"] = command_executor(timeout=timeout)
    for spec in args.executor:
        name, executor = load_executor(spec)
        executors[name] = executor
    return executors


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def _until_signal(
    rt: Runtime,
    out: Output,
    view: LiveView,
    seconds: float | None = None,
    since: int | None = None,
) -> bool:
    """Follow the events until Ctrl-C or SIGTERM (True) or `seconds` passed (False)."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, tg.cancel_scope)
        tg.start_soon(follow_events, rt, out, view, since)
        if seconds is not None:
            await anyio.sleep(seconds)
            tg.cancel_scope.cancel()
            return False
    return True


async def serve(args: argparse.Namespace, out: Output) -> int:
    with logs_to_stderr(args.log_format, args.log_level):
        return await _serve(args, out)


async def _serve(args: argparse.Namespace, out: Output) -> int:
    token = args.token or os.environ.get("AUTOMATIONS_TOKEN") or None
    http = None if args.http is None else _http(args.http, token)  # before anything opens
    executors = executors_for(args)
    retention = None if args.retention is None else parse_duration(args.retention, "--retention")
    metrics = metrics_for(args)
    async with open_runtime(
        args.db,
        executors=executors,
        project=args.project,
        directory=args.directory,
        retention=retention,
        max_scheduled_runs=parse_limit(args.max_scheduled_runs, "--max-scheduled-runs"),
        metrics=metrics,
        scopes="all" if args.all_scopes else None,
    ) as rt:
        # What imports and opening made lives as long as the process: frozen, it is left
        # out of the collector's full passes (docs/operations.md, "The collector").
        gc.collect()
        gc.freeze()
        names = ", ".join(sorted(executors))
        where = display_location(args.db)
        heading = f"serving {rt.scope.project} in {rt.scope.directory} on {where}"
        if args.all_scopes:
            heading = f"serving every scope, with the other fleet workers, on {where}"
        leading = await rt.leading()
        view = LiveView(heading)
        view.status = role_text(leading)
        out.say(f"{heading}; executors: {names}; Ctrl-C to stop\n{view.status}")
        async with unwrapping_groups(), anyio.create_task_group() as tg:
            tg.start_soon(watch_role, rt, out, view, leading)
            if http is not None:  # the HTTP API: one more task, stopped with the worker
                from ..http import create_app, serve_http

                app = create_app(rt, token=token, cors_origins=args.cors_origin)
                tg.start_soon(serve_http, app, *http)
                out.say(f"HTTP API on http://{args.http}/")
            if args.metrics is not None and metrics is not None:  # on a port of their own
                tg.start_soon(metrics_served, args.metrics, metrics, out)
            await _until_signal(rt, out, view)
            tg.cancel_scope.cancel()
    report = rt.shutdown_report
    left = "" if report is None else f": {report.describe()}"
    out.say(f"stopped cleanly{left}")
    return 0


def _http(bind: str, token: str | None) -> tuple[str, int]:
    """Where `--http` listens; refused beyond loopback without a token. The HTTP layer
    is an extra, imported only when asked for."""
    try:
        from ..http import check_bind
    except ImportError:
        raise ValidationError(
            [("--http", "needs the http extra: pip install 'automations[http]'")]
        ) from None
    return check_bind(bind, token)


_DEMO_DB = "automations-demo.db"


async def demo(args: argparse.Namespace, out: Output) -> int:
    path, seconds = _demo_database(args), args.seconds
    if not seconds > 0:
        raise BadInput(f"--seconds {seconds:g}: the demo needs some time; give more than 0")
    await anyio.to_thread.run_sync(remove_store, path)  # each demo starts clean
    executors: dict[str, Executor] = {"demo": demo_executor(step_seconds=0.5)}
    async with open_runtime(
        path, executors=executors, project=args.project, directory=args.directory
    ) as rt:
        now = datetime.now(UTC)
        out.say(f"demo database: {path}; the demo takes {seconds:g} s and ends by itself\n")
        every = Interval(every=timedelta(seconds=30), start=now + timedelta(seconds=3))
        digest, triage, release = await rt.create_many(
            _demo_automation(args.project, title, prompt, schedule)
            for title, prompt, schedule in (
                ("Minute digest", "Summarise what changed in the last minute", Cron("* * * * *")),
                ("Inbox triage", "Triage the new issues", every),
                ("Release", "Ship the release to staging?", Cron("0 9 * * 1")),
            )
        )
        blocked = await rt.run_now(release.id)
        view = LiveView(f"automations demo on {path}")
        interrupted = False

        async def until_the_end(scope: anyio.CancelScope) -> None:
            nonlocal interrupted
            interrupted = await _until_signal(rt, out, view, seconds, 0)
            scope.cancel()  # Ctrl-C stops the whole demo, not only its view

        async with anyio.create_task_group() as tg:
            tg.start_soon(until_the_end, tg.cancel_scope)
            waiting = await rt.wait(blocked.id, until=RunState.AWAITING_INPUT)
            await anyio.sleep(seconds / 2)
            if waiting.blocker is not None:
                out.say(f"\nthe demo answers {waiting.id}'s question for you: yes\n")
                await rt.answer(waiting.id, waiting.blocker.id, "yes")
            await anyio.sleep_forever()  # until the end, or Ctrl-C
        if interrupted:
            out.say("\ninterrupted: the demo stopped early")
            return 130
        await _print_ledger(rt, out, [digest.id, triage.id, release.id])
    _what_next(out, path, triage.id)
    return 0


def _demo_database(args: argparse.Namespace) -> str:
    """The demo's own file, or a `--db` that does not exist yet: the demo deletes its
    database first, so it never takes `$AUTOMATIONS_DB` nor a database already there."""
    path: str = args.db if args.db_on_command_line else _DEMO_DB
    if is_url(path):
        raise BadInput(
            "the demo starts clean on a SQLite file of its own, which it deletes first; "
            "run it without a postgresql:// --db"
        )
    if os.path.abspath(path) != os.path.abspath(_DEMO_DB) and os.path.exists(path):
        raise BadInput(
            f"--db {path} exists, and the demo deletes its database first; "
            f"give a path that does not exist yet (or leave --db out: {_DEMO_DB})"
        )
    return path


def _demo_automation(
    project: str, title: str, prompt: str, schedule: Cron | Interval
) -> NewAutomation:
    """A demo automation with a worktree of its own, so the three never wait on each
    other (one run at a time per worktree)."""
    worktree = "demo/" + title.split()[0].lower()
    return NewAutomation(
        title=title,
        prompt=prompt,
        timezone="UTC",
        schedule=schedule,
        executor="demo",
        where=Where(project=project, worktree=worktree),
    )


async def _print_ledger(rt: Runtime, out: Output, ids: list[str]) -> None:
    out.say("\nthe ledger:")
    now = datetime.now(UTC)
    for automation_id in ids:
        automation = await rt.get(automation_id)
        page = await rt.runs(automation_id, limit=20)
        out.say(f"\n{printable(automation.title)} ({automation.id})")
        out.console.print(runs_table(page.items, now) if page.items else "  no runs")


def _what_next(out: Output, path: str, automation_id: str) -> None:
    bare = os.environ.get("AUTOMATIONS_DB", "automations.db")  # what a bare command opens
    db = "" if path == bare else f" --db {path}"
    out.say(
        "\nwhat to try next:\n"
        f"  automations{db} ls\n"
        f"  automations{db} runs {automation_id}\n"
        f"  automations{db} serve                      # in one terminal\n"
        f"  automations{db} run {automation_id} --wait  # in another\n"
        '  automations add "Morning brief" --cron "0 9 * * 1-5" --timezone Europe/Berlin\n'
    )
