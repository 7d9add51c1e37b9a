"""`automations doctor`: examine a database and say what is wrong and what to do.

It never opens the store for work: the store examines itself without creating,
migrating or locking anything (`persistence.diagnose_store`), so a damaged, foreign
or read-only database can be examined. Exit 0 when every finding is ok, 1 otherwise.
"""

from __future__ import annotations

import argparse
import time

import anyio
import msgspec
from rich.text import Text

from ..persistence import StoreHealth, diagnose_store, display_location
from ._diagnosis import Finding, Thresholds, judge
from ._options import parse_duration
from ._render import Output
from ._text import printable

__all__ = ["doctor", "doctor_options"]

_STYLES = {"ok": "green", "warning": "bold yellow", "error": "bold red"}
_LIMIT = 100
"""At most this many facts of each kind (runs, overdue automations, scopes)."""


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """What `doctor --json` prints."""

    ok: bool
    store: str
    location: str
    findings: list[Finding]


def doctor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stuck-after",
        default="1h",
        metavar="AGE",
        help="report runs scheduled, running or awaiting input longer (default %(default)s)",
    )
    parser.add_argument(
        "--late-after",
        default="2m",
        metavar="AGE",
        help="report automations whose next fire is this far past (default %(default)s)",
    )


async def doctor(args: argparse.Namespace, out: Output) -> int:
    limits = Thresholds(
        stuck_after_ms=_ms(parse_duration(args.stuck_after, "--stuck-after").total_seconds()),
        late_after_ms=_ms(parse_duration(args.late_after, "--late-after").total_seconds()),
    )
    now_ms = _ms(time.time())
    health: StoreHealth = await anyio.to_thread.run_sync(
        lambda: diagnose_store(
            args.db, overdue_before_ms=now_ms - limits.late_after_ms, limit=_LIMIT
        )
    )
    findings = judge(health, now_ms, limits)
    ok = all(finding.severity == "ok" for finding in findings)
    if out.json:
        report = Report(ok=ok, store=health.store, location=health.location, findings=findings)
        out.value(report)
    else:
        _show(health, findings, out)
    return 0 if ok else 1


def _show(health: StoreHealth, findings: list[Finding], out: Output) -> None:
    where = printable(display_location(health.location))
    out.console.print(Text(f"{health.store} store at {where}", style="bold"), soft_wrap=True)
    for finding in findings:
        line = Text()
        line.append(f"{finding.severity:<8}", style=_STYLES[finding.severity])
        line.append(f"{finding.check:<11}")
        line.append(printable(finding.detail))
        out.console.print(line, soft_wrap=True)
        if finding.advice:
            out.console.print(Text(f"{'':19}-> {printable(finding.advice)}"), soft_wrap=True)
    problems = sum(finding.severity != "ok" for finding in findings)
    if problems:
        summary = Text(f"{problems} problem{'s' if problems != 1 else ''} found", style="bold red")
    else:
        summary = Text("no problems found", style="bold green")
    out.console.print(summary)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
