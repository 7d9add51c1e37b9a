"""Whether a `serve` leads its scope or stands by, said when it starts and when it
changes: several workers may serve one scope, and only the lease holder fires."""

from __future__ import annotations

import anyio

from ..api import Runtime
from ._live import LiveView
from ._render import Output

__all__ = ["ROLE_CHECK_SECONDS", "role_text", "watch_role"]

ROLE_CHECK_SECONDS = 0.5
"""How often `serve` looks whether it leads (a standby takes over within a second)."""


def role_text(leading: bool) -> str:
    if leading:
        return "leading: this worker fires the schedules"
    return "standby: another worker leads; this one takes over if it stops"


async def watch_role(rt: Runtime, out: Output, view: LiveView, leading: bool) -> None:
    """Say each change of role until cancelled (`leading` is the role said first)."""
    while True:
        await anyio.sleep(ROLE_CHECK_SECONDS)
        now = await rt.leading()
        if now != leading:
            leading = now
            view.status = role_text(leading)
            out.say(("now " if leading else "no longer leading; ") + role_text(leading))
