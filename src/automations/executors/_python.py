"""Python executors named on the command line: `name=package.module:function`.

They are imported when `serve` starts, from what the person typed, never from the
database: an automation only names `name`.
"""

from __future__ import annotations

import importlib
import inspect

from ..actors import Executor
from ..model import AutomationError

__all__ = ["ExecutorSpecError", "load_executor"]


class ExecutorSpecError(AutomationError, ValueError):
    """`--executor` was not `name=module:function`, or that function cannot run a run."""


def load_executor(spec: str) -> tuple[str, Executor]:
    """(name, executor) for `name=module:function`."""
    name, sep, target = spec.partition("=")
    module_name, colon, attribute = target.partition(":")
    if not (sep and colon and name.strip() and module_name and attribute):
        raise ExecutorSpecError(
            f"--executor {spec!r} should look like name=package.module:function"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        message = f"--executor {spec!r}: cannot import {module_name}: {exc}"
        raise ExecutorSpecError(message) from None
    function = getattr(module, attribute, None)
    if function is None:
        raise ExecutorSpecError(f"--executor {spec!r}: {module_name} has no {attribute}")
    if not _is_async_callable(function):
        raise ExecutorSpecError(
            f"--executor {spec!r}: {attribute} must be an async function taking a RunContext"
        )
    executor: Executor = function
    return name.strip(), executor


def _is_async_callable(function: object) -> bool:
    """An async function, or an object whose `__call__` is one."""
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(type(function), "__call__", None)  # noqa: B004 - the method, not callability
    return inspect.iscoroutinefunction(call)
