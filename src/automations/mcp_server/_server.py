"""The MCP server over stdio: `automations mcp --db ...`.

Like every client it opens the database with `role="client"` and reaches the worker
(`automations serve`) through it. A tool's failure comes back as a tool error (the
model reads it): a `ValidationError` as one `field: message` line per problem, and
the same pairs in the structured content under `errors`.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..api import Runtime, open_runtime
from ..executors import FrameworkMissing
from ..model import AutomationError, ValidationError, from_builtins, to_builtins, to_json
from ._schema import input_schema
from ._tools import TOOLS

try:
    import mcp_types as types
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server
except ImportError as exc:  # pragma: no cover - tested in a process without the extra
    raise FrameworkMissing(
        "automations mcp needs the MCP SDK: install it with pip install 'automations[mcp]'"
    ) from exc

__all__ = ["build_server", "serve_stdio"]


def build_server(rt: Runtime) -> Server[Any]:
    """An MCP server whose tools act through `rt`."""
    tools = [
        types.Tool(name=t.name, description=t.description, input_schema=input_schema(t.arguments))
        for t in TOOLS.values()
    ]

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            return _error(f"no tool named {params.name!r}; the tools are {', '.join(TOOLS)}")
        try:
            given = params.arguments or {}
            arguments = from_builtins(given, tool.arguments, unknown="unknown_field")
            value = await tool.call(rt, arguments)
        except ValidationError as error:
            lines = "\n".join(f"- {field}: {message}" for field, message in error.details)
            errors = [{"field": field, "message": message} for field, message in error.details]
            return _error(f"invalid input:\n{lines}", {"errors": errors})
        except AutomationError as error:
            return _error(f"{type(error).__name__}: {error}")
        text = to_json(value).decode()
        return types.CallToolResult(
            content=[types.TextContent(text=text)],
            structured_content={"result": to_builtins(value)},
        )

    return Server(
        "automations",
        version=__version__,
        instructions="Schedule agent prompts, follow their runs, and answer what they ask.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _error(text: str, structured: dict[str, Any] | None = None) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=structured, is_error=True
    )


async def serve_stdio(db: str, *, project: str, directory: str) -> int:
    """Serve the MCP tools over this process's stdin and stdout until the client leaves."""
    async with open_runtime(db, role="client", project=project, directory=directory) as rt:
        server = build_server(rt)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    return 0
