"""The spans of runs, seen by the OpenTelemetry SDK's in-memory exporter: one
`automation.run` span per executor call and per wait on a person, linked, with the
run's transitions as events and the executor's own spans inside."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracer, Span, StatusCode, Tracer

import automations as am
from automations.testing import ManualClock

from ..integration.conftest import OpenRuntime, new
from .conftest import reached

pytestmark = pytest.mark.anyio


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def runs(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == "automation.run"), key=lambda s: s.start_time or 0)


def events(span: ReadableSpan) -> list[str]:
    return [event.name for event in span.events]


def named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = (s for s in spans if s.name == name)
    return span


async def test_a_run_that_waits_on_a_person_is_two_linked_spans(
    runtime_factory: OpenRuntime,
    clock: ManualClock,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    tracer = provider.get_tracer("agent")

    async def agent(ctx: am.RunContext) -> str:
        with tracer.start_as_current_span("gen_ai.chat"):
            pass
        reply = await ctx.ask(am.Question("Deploy now?"))
        with tracer.start_as_current_span("gen_ai.execute_tool"):
            pass
        return reply

    async with runtime_factory({"default": agent}, tracing=provider) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)
        waiting = await reached(rt, run.id, am.RunState.AWAITING_INPUT)
        assert waiting.blocker is not None
        (before,) = runs(exporter.get_finished_spans())  # the wait ended the first span
        assert events(before) == ["awaiting_input"]
        clock.advance(24 * 3600)  # a day later
        await rt.answer(run.id, waiting.blocker.id, "yes")
        done = await rt.wait(run.id, timeout=10)
        assert done.state is am.RunState.SUCCEEDED
    spans = exporter.get_finished_spans()
    first, second = runs(spans)
    assert first.context is not None and second.context is not None
    assert first.attributes is not None
    assert first.attributes["automation.id"] == a.id
    assert first.attributes["automation.run.id"] == run.id
    assert first.attributes["automation.trigger"] == "manual"
    assert first.attributes["automation.slot"] == run.triggered_at.isoformat()
    assert first.attributes["automation.attempt"] == 1
    assert second.attributes == first.attributes
    # The second is a span of its own, linked to the first, not one day-long span.
    assert first.parent is None and second.parent is None
    assert [link.context.span_id for link in second.links] == [first.context.span_id]
    # Its start is the run's `running` again and its end, status unset, the success.
    assert events(second) == []
    assert second.status.status_code is StatusCode.UNSET
    assert second.end_time is not None
    # The executor's spans nest in the run's span of their time.
    chat, tool = named(spans, "gen_ai.chat"), named(spans, "gen_ai.execute_tool")
    assert chat.parent is not None and tool.parent is not None
    assert chat.parent.span_id == first.context.span_id
    assert tool.parent.span_id == second.context.span_id
    assert chat.context is not None and chat.context.trace_id == first.context.trace_id


async def test_each_run_is_one_span_and_a_failure_is_an_error(
    runtime_factory: OpenRuntime, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async def flaky(ctx: am.RunContext) -> str:
        if ctx.run.trigger is am.Trigger.MANUAL and ctx.automation.title == "Boom":
            raise RuntimeError("the model is overloaded")
        return "ok"

    async with runtime_factory({"default": flaky}, tracing=provider) as rt:
        good = await rt.create(new())
        bad = await rt.create(new(title="Boom", where=am.Where("project-a", "other")))
        ran = [await rt.run_now(good.id), await rt.run_now(bad.id), await rt.run_now(good.id)]
        ends = [await rt.wait(r.id, timeout=10) for r in ran]
    assert [r.state for r in ends] == [
        am.RunState.SUCCEEDED,
        am.RunState.FAILED,
        am.RunState.SUCCEEDED,
    ]
    spans = runs(exporter.get_finished_spans())
    by_run = {s.attributes["automation.run.id"]: s for s in spans if s.attributes is not None}
    assert len(spans) == 3 and set(by_run) == {r.id for r in ran}
    failed = by_run[ran[1].id]
    assert events(failed) == ["failed"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description is not None
    assert failed.status.description.startswith("execution_failed: RuntimeError")
    assert failed.events[-1].attributes == {"automation.error.code": "execution_failed"}
    for succeeded in (by_run[ran[0].id], by_run[ran[2].id]):
        assert events(succeeded) == []  # the span's end says it
        assert succeeded.status.status_code is StatusCode.UNSET


async def test_a_cancel_while_waiting_ends_in_a_short_linked_span(
    runtime_factory: OpenRuntime, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async def agent(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("Deploy now?"))

    async with runtime_factory({"default": agent}, tracing=provider) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)
        await reached(rt, run.id, am.RunState.AWAITING_INPUT)
        await rt.cancel(run.id)
        assert (await rt.wait(run.id, timeout=10)).stop_reason is am.StopReason.CANCELLED
    waited, ending = runs(exporter.get_finished_spans())
    assert waited.context is not None
    assert events(waited) == ["awaiting_input"]
    assert events(ending) == ["stopped"]
    assert [link.context.span_id for link in ending.links] == [waited.context.span_id]
    assert ending.events[0].attributes is not None
    assert ending.events[0].attributes["automation.stop_reason"] == "cancelled"


async def test_without_a_configured_provider_nothing_is_traced(
    runtime_factory: OpenRuntime,
) -> None:
    # The default: no global provider was set, so the runtime observes nothing.
    async with runtime_factory() as rt:
        assert rt._services.observer is None


async def test_a_failing_tracer_provider_does_not_stop_a_run(
    runtime_factory: OpenRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(TracerProvider):
        def get_tracer(self, *args: object, **kwargs: object) -> Tracer:
            return BrokenTracer()

    class BrokenTracer(NoOpTracer):
        def start_span(self, *args: object, **kwargs: object) -> Span:
            raise RuntimeError("the exporter is misconfigured")

    async with runtime_factory(tracing=Broken()) as rt:
        a = await rt.create(new())
        done = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert done.state is am.RunState.SUCCEEDED
    assert any("runs untraced" in r.getMessage() for r in caplog.records)
