"""OpenTelemetry traces of runs, with the OpenTelemetry API only (the `otel` extra).

A run's executor call is wrapped in an `automation.run` span, current in the
executor's task, so the executor's own spans (an agent framework's `gen_ai` spans)
nest inside it. A span begins as the run goes `running`; the run's further
transitions, as this process commits them (the change feed), are its events, but for
the two the span says itself: its start (`running`) and a plain success (its end, the
status unset). A wait on a person ends the span; when the wait is answered a new span
begins, linked to the one before, so a run that waited a day is not one day-long span.
An end recorded while nothing ran (a blocker's timeout, a cancel of a waiting run)
gets a short span of its own, linked the same way.

A span is made on every run's path, so it carries what the SDK must have and no more:
five attributes built once per run, no event it could do without (an event is three
objects more for the collector, per span, for as long as the exporter keeps it).

Nothing is exported unless the application configured a tracer provider: the spans
of the API's default provider record nothing.
"""

from __future__ import annotations

from contextvars import Token
from datetime import datetime

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, Status, StatusCode, TracerProvider
from opentelemetry.util.types import Attributes

from ..actors import RunTrace
from ..model import Automation, Event, Run, RunState, RunUpdated, Scope, Trigger

__all__ = ["SPAN_NAME", "Tracing"]

SPAN_NAME = "automation.run"

_ROOT = Context()
"""The parent of every run's span: none (a run is not part of whatever the task that
opened the runtime traced)."""

_TRIGGERS = {trigger: trigger.value for trigger in Trigger}
"""A trigger's attribute value, a plain string (looked up, not an enum's property)."""

_ENDS = frozenset(state for state in RunState if state.is_terminal)


class Tracing:
    """Opens the spans of the runs this process executes, from `tracer_provider` (the
    global one by default)."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("automations", tracer_provider=tracer_provider)
        self.live: dict[str, _RunSpans] = {}
        """Runs whose executor was called here and whose end is not yet committed."""
        self._slot: datetime | None = None
        self._slot_text = ""
        """The last slot written out, as text: a slot's runs start together."""

    def run_executing(self, run: Run, automation: Automation) -> RunTrace:
        spans = _RunSpans(self, run, automation)
        self.live[run.id] = spans
        return spans

    def on_commit(self, scope: Scope, event: Event) -> None:
        """The store's change listener: a transition of a run traced here."""
        if self.live and isinstance(event, RunUpdated):
            spans = self.live.get(event.run.id)
            if spans is not None:
                spans.transition(event.run)

    def close(self) -> None:
        """End what is still open (the runtime closes)."""
        for spans in list(self.live.values()):
            spans.abandon()
        self.live.clear()

    def _start(self, attributes: Attributes, previous: Span | None) -> Span:
        links = None if previous is None else [Link(previous.get_span_context())]
        return self._tracer.start_span(SPAN_NAME, _ROOT, attributes=attributes, links=links)

    def _slot_attribute(self, slot: datetime) -> str:
        if slot != self._slot:
            self._slot, self._slot_text = slot, slot.isoformat()
        return self._slot_text


class _RunSpans:
    """The spans of one run in this process; implements `RunTrace`."""

    __slots__ = ("_attributes", "_current", "_open", "_previous", "_run_id", "_token", "_tracing")

    def __init__(self, tracing: Tracing, run: Run, automation: Automation) -> None:
        self._tracing = tracing
        self._run_id = run.id
        self._attributes: Attributes = {
            "automation.id": automation.id,
            "automation.run.id": run.id,
            "automation.trigger": _TRIGGERS[run.trigger],
            "automation.slot": tracing._slot_attribute(run.triggered_at),
            # Each retry of a run is a run of its own, with its attempt number.
            "automation.attempt": run.attempt,
        }
        self._open: Span | None = tracing._tracer.start_span(
            SPAN_NAME, _ROOT, attributes=self._attributes
        )
        self._previous: Span | None = None
        """The last span ended by a wait: the next one links to it."""
        self._current: Span | None = None
        """The span current in the executor's task."""
        self._token: Token[Context] | None = None

    # -- in the executor's task ----------------------------------------------------------

    def enter(self) -> None:
        span = self._open
        if span is not None:
            self._current = span
            self._token = otel_context.attach(trace.set_span_in_context(span))

    def resumed(self) -> None:
        if self._open is not None:
            return  # no wait ended its span (answered before it was asked)
        self._open = span = self._tracing._start(self._attributes, self._previous)
        # What the executor does next is the new span's, unless it opened a span of its
        # own around the wait: that one stays its parent.
        if trace.get_current_span() is self._current:
            self._current = span
            otel_context.attach(trace.set_span_in_context(span))

    def exit(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)  # the context as before the call, every attach undone
        self._current = None

    # -- from the change feed ------------------------------------------------------------

    def transition(self, run: Run) -> None:
        state = run.state
        span = self._open
        if state is RunState.SUCCEEDED and span is not None:
            # Every run's way out: the span's end says it, no event.
            span.end()
            self._open = None
            self._tracing.live.pop(self._run_id, None)
            return
        if state is RunState.RUNNING:
            return  # a span's start is the run's `running`: no event says it again
        if span is None:
            if state not in _ENDS:
                return
            span = self._tracing._start(self._attributes, self._previous)
        if state is RunState.SUCCEEDED:
            self._end(span)
            return
        attributes: dict[str, str] = {}  # the few that say more than the state
        if run.stop_reason is not None:
            attributes["automation.stop_reason"] = run.stop_reason.value
        if run.error is not None:
            attributes["automation.error.code"] = run.error.code.value
        if run.blocker is not None and state is RunState.AWAITING_INPUT:
            attributes["automation.blocker.id"] = run.blocker.id
            attributes["automation.blocker.kind"] = run.blocker.request.kind.value
        span.add_event(state.value, attributes or None)
        if state is RunState.AWAITING_INPUT:
            span.end()
            self._open, self._previous = None, span
        elif state in _ENDS:
            if run.error is not None:
                span.set_status(Status(StatusCode.ERROR, f"{run.error.code}: {run.error.message}"))
            self._end(span)

    def _end(self, span: Span) -> None:
        span.end()
        self._open = None
        self._tracing.live.pop(self._run_id, None)

    def abandon(self) -> None:
        """The runtime closes before the run's end was committed."""
        if self._open is not None:
            self._open.add_event("runtime closed")
            self._open.end()
            self._open = None
