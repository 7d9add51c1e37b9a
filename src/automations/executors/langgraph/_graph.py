"""The LangGraph executor: a compiled graph run on the thread named by the run's id.

Each super-step is a step, counted when the graph announces its tasks (its `debug`
stream's `task` events, which LangGraph yields before it runs them), so the step cap
stops a looping graph before the next super-step; a super-step that an interrupt ran
again is not counted twice. After the graph stops on interrupts, each
becomes a blocker (`blocker_for`), and the graph goes on with
`Command(resume={interrupt id: answer})`.

The graph needs a checkpointer for interrupts: the graph's own when it was compiled
with one, otherwise an `InMemorySaver` this executor keeps (and clears at each run's
end). Either way the thread's latest checkpoint and its pending writes are saved with
`ctx.checkpoint` (through the checkpointer's serializer) before a blocker opens, so a
worker taking the run over restores them into its checkpointer when that has no copy
of the thread: resuming needs no durable checkpointer. Only the root graph's
namespace is saved: an interrupt raised in a subgraph with its own checkpointer is
not resumed in another process.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import msgspec

from ...actors import Executor, RunContext, resumable
from ...model import RunOutcome
from .._frameworks import missing, require_asyncio
from ._blockers import blocker_for

try:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.pregel import Pregel
    from langgraph.types import Command, Interrupt
except ImportError as exc:  # pragma: no cover - tested in a process without the extra
    raise missing(__name__.rpartition(".")[0], "LangGraph", "langgraph") from exc

__all__ = ["default_input", "default_output", "executor"]


class _Typed(msgspec.Struct, frozen=True):
    """A value as the checkpointer's serializer writes it: its type and base64 bytes."""

    type: str
    data: str


class _Write(msgspec.Struct, frozen=True):
    task: str
    channel: str
    value: _Typed


class _Snapshot(msgspec.Struct):
    """What a run waiting on interrupts saves: the thread's latest checkpoint, its
    pending writes (the interrupts among them), the last super-step counted and the
    answers given so far."""

    checkpoint: _Typed
    metadata: _Typed
    writes: list[_Write]
    counted: int
    answers: dict[str, Any] = msgspec.field(default_factory=dict)


def default_input(prompt: str) -> dict[str, Any]:
    """The graph's input when none is given: `{"prompt": the automation's prompt}`."""
    return {"prompt": prompt}


def default_output(values: Any) -> str | None:
    """The run's result from the graph's final state: its `"result"` when that is a
    `str`, else the whole state as JSON."""
    if isinstance(values, dict) and isinstance(values.get("result"), str):
        return str(values["result"])
    return msgspec.json.encode(values, enc_hook=repr).decode()


def executor(
    graph: Pregel[Any, Any, Any, Any],
    *,
    input: Callable[[str], Any] = default_input,
    output: Callable[[Any], str | None] = default_output,
) -> Executor:
    """An executor running `graph` (compiled) on each run: `input(prompt)` is what the
    graph starts with, `output(final state values)` the run's result."""
    saver = graph.checkpointer
    owned = not isinstance(saver, BaseCheckpointSaver)
    if not isinstance(saver, BaseCheckpointSaver):
        saver = InMemorySaver()
        graph = graph.copy(update={"checkpointer": saver})

    @resumable
    async def langgraph_graph(ctx: RunContext) -> RunOutcome:
        require_asyncio("LangGraph")
        config: RunnableConfig = {"configurable": {"thread_id": ctx.run.id}}
        try:
            snapshot: _Snapshot | None = None
            if ctx.resumed and ctx.checkpoint_data is not None:
                snapshot = msgspec.convert(ctx.checkpoint_data, _Snapshot)
                if await saver.aget_tuple(config) is None:
                    await _restore(saver, ctx.run.id, snapshot)
                counted = snapshot.counted
            else:
                counted = await _steps(graph, ctx, input(ctx.automation.prompt), config, -1)
            while interrupts := (await graph.aget_state(config)).interrupts:
                if snapshot is None:
                    snapshot = await _snapshot(saver, config, counted)
                resume = await _answer(ctx, interrupts, snapshot)
                snapshot = None
                counted = await _steps(graph, ctx, Command(resume=resume), config, counted)
            return RunOutcome(result=output((await graph.aget_state(config)).values))
        finally:
            if owned:
                with anyio.CancelScope(shield=True):
                    await saver.adelete_thread(ctx.run.id)

    return langgraph_graph


async def _steps(
    graph: Pregel[Any, Any, Any, Any],
    ctx: RunContext,
    start: Any,
    config: RunnableConfig,
    counted: int,
) -> int:
    """Stream the graph from `start` until it ends or stops on interrupts, counting each
    super-step above `counted` as a step; the last super-step counted."""
    async for event in graph.astream(start, config, stream_mode="debug"):
        if isinstance(event, dict) and event.get("type") == "task" and event["step"] > counted:
            counted = event["step"]
            await ctx.step()
    return counted


async def _answer(
    ctx: RunContext, interrupts: Sequence[Interrupt], snapshot: _Snapshot
) -> dict[str, Any]:
    """Ask a person about each interrupt not answered yet, saving the snapshot before
    each blocker opens: {interrupt id: answer}."""
    for pending in interrupts:
        if pending.id in snapshot.answers:
            continue
        await ctx.checkpoint(snapshot)
        snapshot.answers[pending.id] = await ctx.ask(blocker_for(pending.value))
    return {pending.id: snapshot.answers[pending.id] for pending in interrupts}


async def _snapshot(
    saver: BaseCheckpointSaver[Any], config: RunnableConfig, counted: int
) -> _Snapshot:
    stored = await saver.aget_tuple(config)
    assert stored is not None  # the graph stopped on interrupts, so it checkpointed
    writes = [
        _Write(task, channel, _dump(saver, value))
        for task, channel, value in stored.pending_writes or ()
    ]
    return _Snapshot(
        _dump(saver, stored.checkpoint), _dump(saver, stored.metadata), writes, counted
    )


async def _restore(saver: BaseCheckpointSaver[Any], thread: str, snapshot: _Snapshot) -> None:
    """Put the snapshot's checkpoint and pending writes back on `thread`."""
    checkpoint = _load(saver, snapshot.checkpoint)
    config: RunnableConfig = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    stored = await saver.aput(
        config, checkpoint, _load(saver, snapshot.metadata), checkpoint["channel_versions"]
    )
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for write in snapshot.writes:
        by_task.setdefault(write.task, []).append((write.channel, _load(saver, write.value)))
    for task, writes in by_task.items():
        await saver.aput_writes(stored, writes, task)


def _dump(saver: BaseCheckpointSaver[Any], value: Any) -> _Typed:
    kind, data = saver.serde.dumps_typed(value)
    return _Typed(kind, base64.b64encode(data).decode())


def _load(saver: BaseCheckpointSaver[Any], typed: _Typed) -> Any:
    return saver.serde.loads_typed((typed.type, base64.b64decode(typed.data)))
