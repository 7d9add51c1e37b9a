"""Ids by a unique prefix: `automations show 01M9` for the automation whose id starts
with `automation_01M9` (or with `01M9`, for one who types the type too).

A prefix that matches several ids is refused with the candidates listed; one that
matches none is passed on as typed, so the command says it found nothing.
"""

from __future__ import annotations

import argparse
from typing import Literal

from ..api import Runtime
from ._options import BadInput

__all__ = ["resolve_ids"]

Kind = Literal["automation", "run"]
_TYPE_PREFIX: dict[Kind, str] = {"automation": "automation_", "run": "automation_run_"}
_ID_ARGUMENTS: dict[str, Kind] = {"id": "automation", "run": "run"}


async def resolve_ids(rt: Runtime, args: argparse.Namespace) -> None:
    """Replace each id argument of `args` given by a prefix with the whole id."""
    for name, kind in _ID_ARGUMENTS.items():
        text = getattr(args, name, None)
        if isinstance(text, str) and text:
            setattr(args, name, await resolve(rt, kind, text))


async def resolve(rt: Runtime, kind: Kind, text: str) -> str:
    """The whole id `text` begins; `text` itself when nothing matches."""
    typed = _TYPE_PREFIX[kind]
    prefix = text if text.startswith(typed) else typed + text
    found = list(await rt.ids_starting(kind, prefix))
    if text in found or prefix in found:
        return text if text in found else prefix
    if len(found) == 1:
        return found[0]
    if not found:
        return text
    shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
    raise BadInput(f"{text!r} is the start of several {kind} ids ({shown}); type more of it")
