"""`--telemetry` of burst and interval: the runtime opened with metrics and tracing on,
the spans going to the OpenTelemetry SDK's in-memory exporter (a dev dependency), or
with both off.

`--span-processor` is how the spans reach the exporter: `batch` (the default) is the
SDK's `BatchSpanProcessor`, what its documentation recommends for production and what
an operator sending spans to a collector configures; `simple` is its
`SimpleSpanProcessor`, which exports each span as it ends, in the caller's thread (the
SDK's choice for tests and debugging). The exporter keeps every span either way, so
the spans counted are the runs traced. `--sample-ratio` below 1 puts the SDK's
`ParentBasedTraceIdRatio` sampler in the provider (1, the default, is the SDK's own
default: every span recorded); 0 records none, which leaves the runtime's own share of
the cost (the span opened, made current, ended) without the SDK's recording.
"""

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
    parser.add_argument(
        "--span-processor",
        choices=("batch", "simple"),
        default="batch",
        help="the SDK's span processor with traces on: batch (production's) or simple",
    )
    parser.add_argument(
        "--sample-ratio",
        type=float,
        default=1.0,
        help="the share of runs whose spans are recorded (1: all, the SDK's default)",
    )


class Observed:
    """The `open_runtime` options of `--telemetry`, and what they recorded."""

    def __init__(self, mode: str | None, processor: str = "batch", ratio: float = 1.0) -> None:
        self.mode = mode
        self.processor = processor
        self.ratio = ratio
        self.options: dict[str, Any] = {"tracing": False}
        self._spans: Any = None
        self._provider: Any = None
        self._metrics: Any = None
        if mode in ("traces", "both"):
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
            from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

            self._spans = InMemorySpanExporter()
            kind = BatchSpanProcessor if processor == "batch" else SimpleSpanProcessor
            sampler = None if ratio >= 1.0 else ParentBasedTraceIdRatio(ratio)
            self._provider = provider = TracerProvider(sampler=sampler)
            provider.add_span_processor(kind(self._spans))
            self.options["tracing"] = provider
        if mode in ("metrics", "both"):
            from automations.telemetry import Metrics

            self._metrics = self.options["metrics"] = Metrics()

    def fields(self) -> dict[str, Any]:
        """For the JSON line: what was on, the spans exported and the runs counted."""
        line: dict[str, Any] = {"telemetry": self.mode is not None}
        if self.mode is not None:
            line["telemetry_parts"] = self.mode
        if self._provider is not None:
            self._provider.shutdown()  # a batch processor exports what it still holds
            line["span_processor"] = self.processor
            line["sample_ratio"] = self.ratio
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
