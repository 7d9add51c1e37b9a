"""`python -m benchmarks.peer burst|interval|register [options]`, in the peer's own
environment: one JSON line on stdout (diagnostics on stderr); exit 0 when `ok`, 2
when not, 1 on an exception. A watchdog thread ends a wedged run, and the process
always ends with `os._exit`, so no aiosqlite or anyio thread keeps it alive."""

from __future__ import annotations

import time

_STARTED = time.perf_counter()  # before the heavy imports (the cold start's `_open`)

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from ._register import bench_open, bench_register  # noqa: E402
from ._support import (  # noqa: E402
    arm_watchdog,
    emit,
    install_log_collector,
    remove_created_dbs,
    versions,
)
from ._workloads import bench_burst, bench_interval  # noqa: E402


def _max_running(value: str) -> int | None:
    return None if value.lower() in ("none", "unlimited", "0") else int(value)


def _common(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--db", help="SQLite file (default: .bench-data/<bench>-<pid>.db, recreated)")
    add("--keep-db", action="store_true", help="keep the SQLite file afterwards")
    add("--driver", choices=("aiosqlite", "sqlite"), default="aiosqlite")
    add("--journal", default="default", help="journal_mode: default (DELETE) or e.g. wal")
    add("--max-concurrent-jobs", type=int, default=100, help="APScheduler's default: 100")
    add("--timeout", type=float, default=None, help="deadline of the measured phase (s)")
    add("--setup-timeout", type=float, default=20.0)
    add("--no-sql-count", action="store_true", help="no statement and commit counters")
    add("-v", "--verbose", action="store_true", help="APScheduler's DEBUG log on stderr")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    burst = sub.add_parser("burst", help="N durable one-off jobs, the scheduler in-process")
    burst.add_argument("--n", type=int, default=1000)
    burst.add_argument("--task-max-running", type=_max_running, default=None)
    _common(burst)
    interval = sub.add_parser("interval", help="S one-second interval schedules for D s")
    interval.add_argument("--schedules", type=int, default=200)
    interval.add_argument("--seconds", type=int, default=10)
    interval.add_argument("--lead", type=float, default=None, help="default 2 + 0.02 * S")
    interval.add_argument("--drain", type=float, default=3.0)
    interval.add_argument("--task-max-running", type=_max_running, default=None)
    _common(interval)
    register = sub.add_parser("register", help="N cron schedules, then a cold start")
    register.add_argument("--n", type=int, default=3000)
    register.add_argument("--cron", default="*/5 * * * *")
    register.add_argument("--tz", default="Europe/Berlin")
    register.add_argument("--open-timeout", type=float, default=20.0)
    register.add_argument("--no-tz-workaround", action="store_true", help="apscheduler#1061")
    _common(register)
    child = sub.add_parser("_open", help="internal: the cold-start child of `register`")
    _common(child)
    return parser


def _timeouts(args: argparse.Namespace) -> float:
    """Fill the measured phase's deadline (scaled with the work); the watchdog's."""
    if args.timeout is not None:
        pass
    elif args.cmd == "burst":
        args.timeout = max(45.0, 0.04 * args.n)
    elif args.cmd == "register":
        args.timeout = max(40.0, 0.012 * args.n)
    elif args.cmd == "interval":
        args.timeout = args.seconds + args.drain + 30.0
    else:
        args.timeout = 20.0
    hard: float = args.timeout + args.setup_timeout * 2 + 20
    if args.cmd == "register":
        hard += args.open_timeout + 20
    return hard


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    bench = args.cmd.lstrip("_")
    arm_watchdog(_timeouts(args), bench)
    t_import = time.perf_counter()
    import anyio
    import apscheduler.datastores.sqlalchemy
    import apscheduler.triggers.cron
    import apscheduler.triggers.interval  # noqa: F401

    import_s = time.perf_counter() - t_import
    warnings = install_log_collector(args.verbose)
    out: dict[str, Any] = {"bench": bench, "ok": False}
    code = 0
    try:
        if args.cmd == "burst":
            out.update(anyio.run(bench_burst, args, backend="asyncio"))
        elif args.cmd == "interval":
            out.update(anyio.run(bench_interval, args, backend="asyncio"))
        elif args.cmd == "register":
            out.update(bench_register(args))
        else:
            out.update(anyio.run(bench_open, args, import_s, _STARTED, backend="asyncio"))
    except BaseException as exc:  # always report something
        out["ok"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"[:1000]
        code = 1
    finally:
        if not args.keep_db:
            remove_created_dbs()
    out["driver"] = args.driver
    out["journal"] = args.journal
    out["log_warnings"] = {"count": warnings.count, "samples": warnings.samples}
    out["versions"] = versions()
    emit(out)
    sys.stderr.flush()
    os._exit(code or (0 if out.get("ok") else 2))


if __name__ == "__main__":
    main()
