"""`--telemetry` of burst and interval: the runtime opened with metrics and tracing on,
the spans going to the OpenTelemetry SDK's in-memory exporter (a dev dependency), or
with both off."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["Observed", "add_telemetry_argument"]


def add_telemetry_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--telemetry",
        action="store_true",
        help="metrics and tracing on (spans to an in-memory exporter); off by default",
    )


class Observed:
    """The `open_runtime` options of `--telemetry`, and what they recorded."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.options: dict[str, Any] = {"tracing": False}
        self._spans: Any = None
        self._metrics: Any = None
        if enabled:
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            from automations.telemetry import Metrics

            self._spans = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(self._spans))
            self._metrics = Metrics()
            self.options = {"tracing": provider, "metrics": self._metrics}

    def fields(self) -> dict[str, Any]:
        """For the JSON line: whether it was on, the spans exported and the runs counted."""
        if not self.enabled:
            return {"telemetry": False}
        ended = sum(
            sample.value
            for family in self._metrics.registry.collect()
            if family.name == "automations_runs_ended"
            for sample in family.samples
            if sample.name.endswith("_total")
        )
        return {
            "telemetry": True,
            "spans": len(self._spans.get_finished_spans()),
            "runs_counted": int(ended),
        }
