"""LangGraph graphs for the executor's tests: plain nodes, no model, no network.

Each node with an effect appends a line to an effects file (see `scripted_pydantic`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import anyio
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel
from langgraph.types import interrupt

from .scripted_pydantic import record


class State(TypedDict, total=False):
    prompt: str
    result: str


def approval_graph(effects_file: Path) -> Pregel[Any, Any, Any, Any]:
    """Writes a note, then asks permission to delete a file (an interrupt shaped as a
    permission), deleting it only when allowed."""

    def write_note(state: State) -> State:
        record(effects_file, "note hello")
        return {}

    def delete(state: State) -> State:
        if not interrupt({"tool": "delete", "args": {"path": "x"}}):
            return {"result": "the delete said: denied"}
        record(effects_file, "delete x")
        return {"result": "the delete said: deleted x"}

    graph = StateGraph(State)
    graph.add_node("write_note", write_note)
    graph.add_node("delete", delete)
    graph.add_edge(START, "write_note")
    graph.add_edge("write_note", "delete")
    graph.add_edge("delete", END)
    return graph.compile()


def question_graph() -> Pregel[Any, Any, Any, Any]:
    """Asks which of two options, and says what was chosen for the prompt."""

    def choose(state: State) -> State:
        choice = interrupt({"question": "Which one?", "options": ["red", "blue"]})
        return {"result": f"{state['prompt']}: {choice}"}

    graph = StateGraph(State)
    graph.add_node("choose", choose)
    graph.add_edge(START, "choose")
    graph.add_edge("choose", END)
    return graph.compile()


def looping_graph(effects_file: Path) -> Pregel[Any, Any, Any, Any]:
    """Goes round one node forever."""

    def again(state: State) -> State:
        record(effects_file, "again")
        return {}

    graph = StateGraph(State)
    graph.add_node("again", again)
    graph.add_edge(START, "again")
    graph.add_conditional_edges("again", lambda state: "again")
    return graph.compile()


class HangingGraph:
    """A graph whose node waits until cancelled; `started` is set when it runs,
    `cancelled` when the cancel reached it."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.cancelled = False

        async def wait(state: State) -> State:
            self.started.set()
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                self.cancelled = True
                raise
            return {}

        graph = StateGraph(State)
        graph.add_node("wait", wait)
        graph.add_edge(START, "wait")
        graph.add_edge("wait", END)
        self.graph = graph.compile()
