"""An MCP server, so that agents can schedule: `automations mcp --db FILE` serves the
tools (`TOOLS`) over stdio with the `mcp` SDK (`pip install 'automations[mcp]'`)."""

from ._server import build_server, serve_stdio
from ._tools import TOOLS, Tool

__all__ = ["TOOLS", "Tool", "build_server", "serve_stdio"]
