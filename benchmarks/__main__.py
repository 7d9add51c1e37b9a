"""`python -m benchmarks WORKLOAD [options]`: one JSON line per run on stdout."""

from __future__ import annotations

import argparse
import sys

from . import (
    backfill,
    blockers,
    burst,
    calls,
    cancel,
    compare,
    downtime,
    failover,
    fleet,
    http_api,
    interval,
    journal,
    overhead,
    register,
)
from ._common import emit

WORKLOADS = {
    "backfill": backfill,
    "blockers": blockers,
    "burst": burst,
    "calls": calls,
    "cancel": cancel,
    "compare": compare,
    "downtime": downtime,
    "failover": failover,
    "fleet": fleet,
    "http": http_api,
    "interval": interval,
    "journal": journal,
    "overhead": overhead,
    "register": register,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="workload", required=True)
    for name, module in WORKLOADS.items():
        workload = sub.add_parser(name, help=(module.__doc__ or "").splitlines()[0])
        workload.add_argument(
            "--smoke", action="store_true", help="tiny sizes: checks the harness, not speed"
        )
        module.add_arguments(workload)
    args = parser.parse_args(argv)
    line = WORKLOADS[args.workload].run(args)
    emit(line)
    return 0 if line.get("ok") else 2


if __name__ == "__main__":
    sys.exit(main())
