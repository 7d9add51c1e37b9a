"""What an `interrupt(value)` asks a person, and what the graph is resumed with.

- a `str`: `Question(value)`, resumed with the answer (a `str`);
- a mapping with `"question"` (and `"options"`, a list of `str`):
  `Question(question, options)`, resumed with the answer (a `str`);
- a mapping with `"tool"` (and `"detail"`, a `str`, or else `"args"`, shown as JSON):
  `Permission(tool, detail)`, resumed with `True` (allowed) or `False` (denied);
- anything else: a `Question` of the value as JSON, resumed with the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from ...model import Permission, Question

__all__ = ["blocker_for"]


def blocker_for(value: Any) -> Question | Permission:
    """The blocker an interrupt with `value` opens (the table above)."""
    if isinstance(value, str):
        return Question(value)
    if isinstance(value, Mapping):
        if isinstance(value.get("tool"), str):
            detail = value.get("detail")
            if not isinstance(detail, str):
                detail = _json(value["args"]) if "args" in value else ""
            return Permission(tool=value["tool"], detail=detail)
        if isinstance(value.get("question"), str):
            options = value.get("options")
            choices = tuple(str(option) for option in options) if options else None
            return Question(value["question"], options=choices)
    return Question(_json(value))


def _json(value: Any) -> str:
    return msgspec.json.encode(value, enc_hook=repr).decode()
