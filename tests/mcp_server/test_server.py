"""The MCP server (`automations mcp`), driven by the `mcp` SDK's own client over stdio,
against a worker serving the same database in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import CallToolResult, TextContent

import automations as am
from automations.mcp_server import TOOLS
from automations.mcp_server._schema import input_schema

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
SCOPE: dict[str, Any] = {"project": "mcp", "directory": "/mcp"}


async def _asking(ctx: am.RunContext) -> str:
    reply = await ctx.ask(am.Question("Deploy now?", options=("yes", "no")))
    return f"deployed: {reply}"


async def _call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    return result


def _value(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    content = result.content[0]
    assert isinstance(content, TextContent)
    return json.loads(content.text)


async def test_an_agent_creates_runs_and_answers_through_the_mcp_server(tmp_path: Path) -> None:
    db = str(tmp_path / "automations.db")
    command = ["-m", "automations", "mcp", "--db", db, "--project", "mcp", "--directory", "/mcp"]
    server = StdioServerParameters(
        command=sys.executable, args=command, cwd=str(ROOT), env=dict(os.environ)
    )
    new = {
        "title": "Deploy",
        "prompt": "Deploy the site",
        "timezone": "UTC",
        "schedule": {"type": "cron", "expression": "61 * * * *"},
        "executor": "asking",
    }
    async with (
        am.open_runtime(db, executors={"asking": _asking}, **SCOPE) as worker,
        stdio_client(server) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        assert {tool.name for tool in listed.tools} == set(TOOLS)
        bad = await _call(session, "create", new)
        assert bad.is_error
        assert bad.structured_content is not None
        fields = [error["field"] for error in bad.structured_content["errors"]]
        assert fields == ["schedule.expression"]
        content = bad.content[0]
        assert isinstance(content, TextContent)
        assert content.text.startswith("invalid input:\n- schedule.expression: ")
        assert await worker.list() == []  # nothing invalid is stored
        created = _value(
            await _call(
                session,
                "create",
                {**new, "schedule": {"type": "cron", "expression": "0 9 * * *"}},
            )
        )
        run = _value(await _call(session, "run_now", {"id": created["id"]}))
        waiting = await worker.wait(run["id"], until=am.RunState.AWAITING_INPUT, timeout=15)
        assert waiting.blocker is not None
        answered = _value(await _call(session, "answer", {"run": run["id"], "reply": "yes"}))
        assert answered["id"] == run["id"]
        done = await worker.wait(run["id"], timeout=15)
        assert (done.state, done.result) == (am.RunState.SUCCEEDED, "deployed: yes")
        seen = _value(await _call(session, "get_run", {"run": run["id"]}))
        assert (seen["state"], seen["result"]) == ("succeeded", "deployed: yes")
        ledger = _value(await _call(session, "runs", {"id": created["id"]}))
        assert [item["id"] for item in ledger["items"]] == [run["id"]]
        missing = await _call(session, "answer", {"run": run["id"]})
        assert missing.is_error
        assert missing.structured_content == {"errors": [{"field": "reply", "message": "required"}]}


async def test_the_other_tools_list_inspect_pause_resume_cancel_and_delete(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "automations.db")
    command = ["-m", "automations", "mcp", "--db", db, "--project", "mcp", "--directory", "/mcp"]
    server = StdioServerParameters(
        command=sys.executable, args=command, cwd=str(ROOT), env=dict(os.environ)
    )
    async with (
        am.open_runtime(db, executors={"asking": _asking}, **SCOPE) as worker,
        stdio_client(server) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        a = await worker.create(
            am.NewAutomation(
                title="Deploy",
                prompt="Deploy",
                timezone="UTC",
                schedule=am.Cron("0 9 * * *"),
                executor="asking",
            )
        )
        listed = _value(await _call(session, "list", {}))
        assert [item["id"] for item in listed] == [a.id]
        run = _value(await _call(session, "run_now", {"id": a.id}))
        await worker.wait(run["id"], until=am.RunState.AWAITING_INPUT, timeout=15)
        inspected = _value(await _call(session, "inspect", {"id": a.id}))
        assert inspected["automation"]["id"] == a.id
        assert [(r["id"], r["state"]) for r in inspected["latestRuns"]] == [
            (run["id"], "awaiting_input")
        ]
        assert _value(await _call(session, "pause", {"id": a.id}))["paused"] is True
        assert _value(await _call(session, "resume", {"id": a.id}))["paused"] is False
        cancelled = _value(await _call(session, "cancel", {"run": run["id"]}))
        assert (cancelled["state"], cancelled["stopReason"]) == ("stopped", "cancelled")
        assert _value(await _call(session, "delete", {"id": a.id}))["deleted"] is True
        assert _value(await _call(session, "list", {})) == []
        gone = await _call(session, "inspect", {"id": a.id})
        assert gone.is_error
        unknown = await _call(session, "pause", {"id": a.id, "why": "no"})
        assert unknown.structured_content == {
            "errors": [{"field": "why", "message": "unknown_field"}]
        }


def test_the_create_schema_is_the_contract_with_defaults_on_the_wire() -> None:
    schema = input_schema(am.NewAutomation)
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"title", "prompt", "timezone", "schedule"}
    assert schema["properties"]["catchupWindow"]["default"] == 60_000
    assert "Cron" in schema["$defs"]


def test_the_cli_says_which_extra_to_install_without_the_sdk(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['mcp'] = None\n"
        "from automations.cli import main\n"
        f"sys.exit(main(['mcp', '--db', {str(tmp_path / 'a.db')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    assert "automations mcp needs the MCP SDK" in done.stderr
    assert "pip install 'automations[mcp]'" in done.stderr
