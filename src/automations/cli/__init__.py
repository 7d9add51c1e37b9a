"""The `automations` command line: a worker (`serve`), client commands, and a demo."""

from ._app import build_parser, main

__all__ = ["build_parser", "main"]
