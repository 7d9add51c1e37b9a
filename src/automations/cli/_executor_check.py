"""A warning for `add` and `edit`: the automation names an executor that the worker
serving its scope does not have, so its runs would fail `execution_failed`."""

from __future__ import annotations

from rich.text import Text

from ..api import Runtime
from ..model import Automation
from ._render import Output
from ._text import printable

__all__ = ["warn_if_no_worker_has"]


async def warn_if_no_worker_has(rt: Runtime, automation: Automation, out: Output) -> bool:
    """Warn on stderr when the serving worker lacks the executor; whether it did. Says
    nothing when it cannot tell (no worker serves the scope now)."""
    served = await rt.served_executors()
    if served is None or automation.executor in served:
        return False
    name = printable(automation.executor)
    names = ", ".join(printable(served_name) for served_name in sorted(served))
    out.errors.print(
        Text(
            f"warning: no worker has executor {name!r}: the worker serving this project "
            f"has {names}; its runs will fail until a worker registers "
            f"it (automations serve --executor {name}=module:function)"
        ),
        soft_wrap=True,
    )
    return True
