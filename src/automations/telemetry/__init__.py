"""Operating a runtime: Prometheus metrics, OpenTelemetry traces, transition logs.

`Metrics` needs `prometheus-client` (the `prometheus` extra) and `Tracing` the
OpenTelemetry API (the `otel` extra); each is imported only when it is used, so
without them nothing here is loaded. `TransitionLog` uses `logging` alone and every
runtime has one. See docs/operations.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._logs import TRANSITIONS_LOGGER, TransitionLog, is_fault
from ._observer import Telemetry

if TYPE_CHECKING:
    from ._metrics import CONTENT_TYPE, Metrics, first_start
    from ._serve import parse_metrics_bind, serve_metrics
    from ._tracing import SPAN_NAME, Tracing

__all__ = [
    "CONTENT_TYPE",
    "SPAN_NAME",
    "TRANSITIONS_LOGGER",
    "Metrics",
    "Telemetry",
    "Tracing",
    "TransitionLog",
    "first_start",
    "is_fault",
    "parse_metrics_bind",
    "serve_metrics",
]


def __getattr__(name: str) -> Any:
    """Import the module of an extra at its first use (PEP 562)."""
    if name in ("CONTENT_TYPE", "Metrics", "first_start"):
        from . import _metrics

        return getattr(_metrics, name)
    if name in ("parse_metrics_bind", "serve_metrics"):
        from . import _serve

        return getattr(_serve, name)
    if name in ("SPAN_NAME", "Tracing"):
        from . import _tracing

        return getattr(_tracing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
