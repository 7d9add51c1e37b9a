"""The command executor: the prompt runs as a shell command.

Off unless enabled (`automations serve --allow-command`): whoever can write an
automation's prompt can then run commands as the worker's user. The result is the
tail of the output; a non-zero exit fails the run; a timeout or a cancel kills the
command's whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import anyio
import anyio.abc

from ..actors import Executor, RunContext
from ..model import AutomationError, RunOutcome

__all__ = ["DEFAULT_COMMAND_TIMEOUT", "CommandFailed", "command_executor"]

DEFAULT_COMMAND_TIMEOUT = 300.0
_TAIL = 4_000
"""Characters of output kept as the run's result."""


class CommandFailed(AutomationError):
    """The command exited with a non-zero status, or ran past its timeout."""


def command_executor(*, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> Executor:
    async def command(ctx: RunContext) -> RunOutcome:
        await ctx.step()
        output, status = await _run(ctx.automation.prompt, limit=timeout)
        tail = output[-_TAIL:]
        if status is None:
            raise CommandFailed(f"the command ran past its timeout of {timeout:g} s: {tail}")
        if status != 0:
            raise CommandFailed(f"the command exited with status {status}: {tail}")
        return RunOutcome(result=tail)

    return command


async def _run(command: str, *, limit: float) -> tuple[str, int | None]:
    """(output, exit status), or status None when it ran past `limit` seconds."""
    with anyio.CancelScope(shield=True):  # a cancel mid-spawn would leak the pipes
        process = await anyio.open_process(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
        )
    chunks: list[bytes] = []
    try:
        with anyio.move_on_after(limit):
            assert process.stdout is not None
            async for chunk in process.stdout:
                chunks.append(chunk)
                if sum(map(len, chunks)) > 4 * _TAIL:
                    chunks[:] = [b"".join(chunks)[-_TAIL:]]
            return _text(chunks), await process.wait()
        return _text(chunks), None
    finally:
        with anyio.CancelScope(shield=True):  # a cancelled run still reaps its process
            if process.returncode is None:
                _kill_group(process)
                await process.wait()
            await process.aclose()


def _kill_group(process: anyio.abc.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _text(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode(errors="replace").rstrip()
