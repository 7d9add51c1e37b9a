"""The PydanticAI executor: an `Agent` run with the automation's prompt.

Each model request is a step (counted before the request is sent, so the step cap
stops a looping agent before its next request). A tool call that needs approval
(`requires_approval=True`, or a tool raising `ApprovalRequired`) ends PydanticAI's run
with `DeferredToolRequests`; each call becomes a `Permission` (the tool's name, its
arguments as JSON in the detail), and the agent goes on with the answers: allowed
runs the tool, denied returns a `ToolDenied` message to the model.

Before each blocker opens, the message history and the calls still to answer are
saved with `ctx.checkpoint`; a worker that takes the run over after its process died
starts from there, so nothing that already ran runs again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ...actors import Executor, RunContext, resumable
from ...model import AutomationError, Permission, RunOutcome
from .._frameworks import missing, require_asyncio

try:
    from pydantic_ai import (
        Agent,
        AgentRun,
        AgentRunResult,
        DeferredToolRequests,
        DeferredToolResults,
        ToolDenied,
    )
    from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
    from pydantic_core import to_json
except ImportError as exc:  # pragma: no cover - tested in a process without the extra
    raise missing(__name__.rpartition(".")[0], "PydanticAI", "pydantic-ai") from exc

__all__ = ["DEFAULT_DENIAL", "UnsupportedDeferral", "executor", "response_cost"]

DEFAULT_DENIAL = "A person denied this tool call."
"""What the model is told when a person denies a tool call."""

Pricer = Callable[[ModelResponse], float | None]


class UnsupportedDeferral(AutomationError):
    """The agent deferred a tool call to be run outside it (`CallDeferred`, an external
    tool): only approvals can be answered by a person."""


class _Call(msgspec.Struct, frozen=True):
    id: str
    tool: str
    detail: str


class _Pending(msgspec.Struct):
    """What a run waiting on approvals saves: the history and the calls to answer."""

    messages: list[Any]
    calls: list[_Call]
    answers: dict[str, bool] = msgspec.field(default_factory=dict)


def response_cost(response: ModelResponse) -> float | None:
    """The price of one model response as genai-prices knows it; None when unknown."""
    try:
        return float(response.cost().total_price)
    except (LookupError, ValueError, AssertionError):
        return None


def executor(
    agent: Agent[Any, Any],
    *,
    deps: Any = None,
    denial: str = DEFAULT_DENIAL,
    price: Pricer = response_cost,
) -> Executor:
    """An executor running `agent` on each run's prompt; its output is the run's result.

    `deps` is passed to every run of the agent; `denial` is what the model reads when
    a person denies a call; `price` turns each model response into a cost added to
    the run (None adds nothing).
    """

    @resumable
    async def pydantic_ai_agent(ctx: RunContext) -> RunOutcome:
        require_asyncio("PydanticAI")
        prompt: str | None = ctx.automation.prompt
        history: list[ModelMessage] | None = None
        results: DeferredToolResults | None = None
        if ctx.resumed and ctx.checkpoint_data is not None:
            pending = msgspec.convert(ctx.checkpoint_data, _Pending)
            prompt, history = None, ModelMessagesTypeAdapter.validate_python(pending.messages)
            results = await _answer(ctx, pending, denial)
        while True:
            output, history = await _run(agent, ctx, prompt, history, results, deps, price)
            if not isinstance(output, DeferredToolRequests):
                return RunOutcome(result=_text(output))
            prompt, results = None, await _answer(ctx, _pending(output, history), denial)

    return pydantic_ai_agent


async def _run(
    agent: Agent[Any, Any],
    ctx: RunContext,
    prompt: str | None,
    history: Sequence[ModelMessage] | None,
    results: DeferredToolResults | None,
    deps: Any,
    price: Pricer,
) -> tuple[Any, list[ModelMessage]]:
    """One PydanticAI run: (its output, the whole message history after it)."""
    run: AgentRun[Any, Any]
    node: Any  # a node of the agent's graph (mypy cannot spell PydanticAI's alias)
    result: AgentRunResult[Any] | None
    async with agent.iter(
        prompt,
        message_history=history,
        deferred_tool_results=results,
        output_type=[agent.output_type, DeferredToolRequests],
        deps=deps,
    ) as run:
        requested = False  # a run going on with answers starts with the old response
        async for node in run:
            if Agent.is_model_request_node(node):
                await ctx.step()
                requested = True
            elif Agent.is_call_tools_node(node) and requested:
                requested = False
                cost = price(node.model_response)
                if cost is not None:
                    ctx.report_cost(cost)
        result = run.result
    assert result is not None  # the iteration ended at End
    return result.output, result.all_messages()


def _pending(requests: DeferredToolRequests, history: list[ModelMessage]) -> _Pending:
    if requests.calls:
        names = ", ".join(sorted({call.tool_name for call in requests.calls}))
        raise UnsupportedDeferral(
            f"the agent deferred calls to be run outside it ({names}); "
            "only tool calls that need approval can wait for a person"
        )
    calls = [
        _Call(call.tool_call_id, call.tool_name, call.args_as_json_str())
        for call in requests.approvals
    ]
    return _Pending(ModelMessagesTypeAdapter.dump_python(history, mode="json"), calls)


async def _answer(ctx: RunContext, pending: _Pending, denial: str) -> DeferredToolResults:
    """Ask a person about each call not answered yet, saving the pending state before
    each blocker opens."""
    for call in pending.calls:
        if call.id in pending.answers:
            continue
        await ctx.checkpoint(pending)
        pending.answers[call.id] = await ctx.ask(Permission(tool=call.tool, detail=call.detail))
    approvals: dict[str, bool | ToolDenied] = {
        id_: True if allowed else ToolDenied(denial) for id_, allowed in pending.answers.items()
    }
    return DeferredToolResults(approvals=dict(approvals))


def _text(output: Any) -> str | None:
    if output is None or isinstance(output, str):
        return output
    return to_json(output).decode()
