"""The OpenAI Agents SDK executor: an `Agent` run by `Runner.run` on the automation's
prompt.

Each model call is a step (counted by a `RunHooks.on_llm_start` hook, before the call
is sent); the SDK's own turn limit is set past the step cap, so the cap is what stops
a looping agent. When the run stops on tool approvals (`needs_approval`), each becomes
a `Permission` (the tool's name, its arguments as the detail); the answers approve or
reject the items on the `RunState`, and the run goes on from that state.

Before each blocker opens, the serialized `RunState` (`to_json()`) and the answers
given so far are saved with `ctx.checkpoint`; a worker that takes the run over
rebuilds the state with `RunState.from_json(agent, ...)` and goes on from it, so the
tools that ran before the pause do not run again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ...actors import Executor, RunContext, resumable
from ...model import Permission, RunOutcome
from .._frameworks import missing, require_asyncio

try:
    from agents import Agent, RunConfig, RunContextWrapper, RunHooks, Runner, RunState
    from agents.items import ToolApprovalItem, TResponseInputItem
    from agents.usage import Usage
except ImportError as exc:  # pragma: no cover - tested in a process without the extra
    raise missing(__name__.rpartition(".")[0], "the OpenAI Agents SDK", "openai-agents") from exc

__all__ = ["executor"]

Pricer = Callable[[Usage], float | None]


class _Pending(msgspec.Struct):
    """What a run waiting on approvals saves: the SDK's state and the answers so far,
    by tool call id."""

    state: dict[str, Any]
    answers: dict[str, bool] = msgspec.field(default_factory=dict)


class _Steps(RunHooks[Any]):
    """Counts each model call as a step of the run."""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx

    async def on_llm_start(
        self,
        context: RunContextWrapper[Any],
        agent: Agent[Any],
        system_prompt: str | None,
        input_items: list[TResponseInputItem],
    ) -> None:
        await self._ctx.step()


def executor(
    agent: Agent[Any],
    *,
    run_config: RunConfig | None = None,
    context: Any = None,
    denial: str | None = None,
    price: Pricer | None = None,
) -> Executor:
    """An executor running `agent` on each run's prompt; its final output is the run's
    result.

    `run_config` and `context` are passed to every `Runner.run`; `denial` is what the
    model reads when a person rejects a call (None: the SDK's default message);
    `price` turns the run's total usage into its cost (None adds no cost).
    """

    @resumable
    async def openai_agent(ctx: RunContext) -> RunOutcome:
        require_asyncio("the OpenAI Agents SDK")
        hooks = _Steps(ctx)
        start: str | RunState[Any, Agent[Any]] = ctx.automation.prompt
        if ctx.resumed and ctx.checkpoint_data is not None:
            pending = msgspec.convert(ctx.checkpoint_data, _Pending)
            start = await RunState.from_json(agent, pending.state)
            await _answer(ctx, start, pending, denial)
        while True:
            result = await Runner.run(
                agent,
                start,
                context=context,
                max_turns=ctx.automation.step_cap + 1,  # the step cap stops it first
                hooks=hooks,
                run_config=run_config,
            )
            if not result.interruptions:
                cost = price(result.context_wrapper.usage) if price is not None else None
                if cost is not None:
                    ctx.report_cost(cost)
                return RunOutcome(result=_text(result.final_output))
            start = result.to_state()
            await _answer(ctx, start, _Pending(start.to_json()), denial)

    return openai_agent


async def _answer(
    ctx: RunContext, state: RunState[Any, Agent[Any]], pending: _Pending, denial: str | None
) -> None:
    """Ask a person about each pending approval not answered yet, saving the pending
    state before each blocker opens; then approve or reject each on `state`."""
    items = state.get_interruptions()
    for index, item in enumerate(items):
        call = _call_id(item, index)
        if call not in pending.answers:
            await ctx.checkpoint(pending)
            request = Permission(tool=item.name or "tool", detail=_arguments(item))
            pending.answers[call] = await ctx.ask(request)
        if pending.answers[call]:
            state.approve(item)
        else:
            state.reject(item, rejection_message=denial)


def _field(item: ToolApprovalItem, name: str) -> Any:
    raw = item.raw_item
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _call_id(item: ToolApprovalItem, index: int) -> str:
    call = _field(item, "call_id")
    return call if isinstance(call, str) else f"#{index}"


def _arguments(item: ToolApprovalItem) -> str:
    arguments = _field(item, "arguments")
    return arguments if isinstance(arguments, str) else ""


def _text(output: Any) -> str | None:
    if output is None or isinstance(output, str):
        return output
    return msgspec.json.encode(output, enc_hook=_jsonable).decode()


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # a pydantic model, as outputs often are
    return dump(mode="json") if callable(dump) else repr(value)
