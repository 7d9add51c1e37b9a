"""Python executors named on the command line: `name=package.module:function`.

They are imported when `serve` starts, from what the person typed, never from the
database: an automation only names `name`. A module of the current directory is found
(`serve --executor agent=myagent:run` beside `myagent.py`), as `python -m` would.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from types import ModuleType

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
        module = _import_here(module_name)
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


def _import_here(module_name: str) -> ModuleType:
    """Import `module_name` with the current directory on `sys.path` for this import."""
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        return importlib.import_module(module_name)
    finally:
        if added:
            sys.path.remove(here)


def _is_async_callable(function: object) -> bool:
    """An async function, or an object whose `__call__` is one."""
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(type(function), "__call__", None)  # noqa: B004 - the method, not callability
    return inspect.iscoroutinefunction(call)
