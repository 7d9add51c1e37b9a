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
        nargs="?",
        const="both",
        choices=("metrics", "traces", "both"),
        default=None,
        help="metrics, traces (spans to an in-memory exporter) or both (the default when "
        "given without a value); off when not given",
    )


class Observed:
    """The `open_runtime` options of `--telemetry`, and what they recorded."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self.options: dict[str, Any] = {"tracing": False}
        self._spans: Any = None
        self._metrics: Any = None
        if mode in ("traces", "both"):
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            self._spans = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(self._spans))
            self.options["tracing"] = provider
        if mode in ("metrics", "both"):
            from automations.telemetry import Metrics

            self._metrics = self.options["metrics"] = Metrics()

    def fields(self) -> dict[str, Any]:
        """For the JSON line: what was on, the spans exported and the runs counted."""
        line: dict[str, Any] = {"telemetry": self.mode is not None}
        if self.mode is not None:
            line["telemetry_parts"] = self.mode
        if self._spans is not None:
            line["spans"] = len(self._spans.get_finished_spans())
        if self._metrics is not None:
            line["runs_counted"] = int(
                sum(
                    sample.value
                    for family in self._metrics.registry.collect()
                    if family.name == "automations_runs_ended"
                    for sample in family.samples
                    if sample.name.endswith("_total")
                )
            )
        return line
