"""Text from the database made safe for a terminal.

Titles, prompts, questions, options and errors are stored as they were given, and an
older version stored them unchecked; a terminal would obey the escape sequences in
them (rename the window, clear the screen) and a newline would break a table row. So
every such text goes through `printable` on its way to a terminal: C0 and C1 control
characters, ESC, DEL, the bidirectional marks and overrides and the line separators
become visible escapes (`\\x1b`, `\\n`), and nothing else changes.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character shown as an escape, on one line."""
    return _CONTROLS.sub(_escape, text)
