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

_LAZY = {
    "CONTENT_TYPE": "_metrics",
    "Metrics": "_metrics",
    "first_start": "_metrics",
    "parse_metrics_bind": "_serve",
    "serve_metrics": "_serve",
    "SPAN_NAME": "_tracing",
    "Tracing": "_tracing",
}


def __getattr__(name: str) -> Any:
    """Import the module of an extra at its first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
