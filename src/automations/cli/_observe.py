"""The operator's options of `serve`: where its logs go and in which form
(`--log-format text|json`, `--log-level`), and its Prometheus metrics (`--metrics
HOST:PORT` on a port of their own, or `/metrics` beside `--http`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from ..model import ValidationError
from ._render import Output

if TYPE_CHECKING:
    from ..telemetry import Metrics

__all__ = ["JsonFormatter", "LOG_LEVELS", "logs_to_stderr", "metrics_for", "metrics_served"]

LOG_LEVELS = ("debug", "info", "warning", "error")

_STANDARD = frozenset(
    {*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "taskName"}
)
"""A record's own attributes; the rest came as `extra` and are fields of their own."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line for log shippers: time, level, logger, message, the
    record's `extra` fields (run and automation ids, state, ...) and any exception."""

    _encoder = msgspec.json.Encoder(enc_hook=str)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return self._encoder.encode(line).decode()


@contextmanager
def logs_to_stderr(log_format: str, level: str) -> Iterator[None]:
    """Write the `automations` loggers' lines at `level` and above to standard error
    while the block runs (the library itself adds no handler)."""
    logger = logging.getLogger("automations")
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    before = logger.level
    logger.setLevel(level.upper())
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


def metrics_for(args: argparse.Namespace) -> Metrics | None:
    """Metrics when `--metrics` asks for them (the prometheus extra is then needed),
    or beside `--http` when the extra is installed (for its `/metrics`)."""
    try:
        from ..telemetry import Metrics, parse_metrics_bind

        if args.metrics is not None:
            parse_metrics_bind(args.metrics)  # refused before anything opens
        return Metrics() if args.metrics is not None or args.http is not None else None
    except ImportError:
        if args.metrics is None:
            return None
        raise ValidationError(
            [("--metrics", "needs the prometheus extra: pip install 'automations[prometheus]'")]
        ) from None


async def metrics_served(bind: str, metrics: Metrics, out: Output) -> None:
    """Serve `metrics` on `--metrics HOST:PORT` until cancelled."""
    from ..telemetry import parse_metrics_bind, serve_metrics

    host, port = parse_metrics_bind(bind)
    async with serve_metrics(metrics, host, port) as (bound_host, bound_port):
        where = f"[{bound_host}]" if ":" in bound_host else bound_host
        out.say(f"metrics on http://{where}:{bound_port}/metrics")
        await anyio.sleep_forever()
