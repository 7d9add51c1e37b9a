"""Reading a reply from the terminal without a thread that outlives it.

`read_line` waits until the standard input's file descriptor is readable (the event
loop's own readiness, on asyncio and trio), then reads what is there. Waiting is a
cancellation point, so a prompt raced against an answer from another terminal ends
the instant the other side wins, and Ctrl-C reaches the event loop as it should:
no `input()` in a thread is left blocking the interpreter's exit.
"""

from __future__ import annotations

import os
import sys

import anyio

from ._options import BadInput

__all__ = ["EndOfInput", "read_line"]


class EndOfInput(BadInput):
    """The input ended (Ctrl-D) before a reply was given; exit 1 with one line."""


async def read_line(prompt: str) -> str:
    """One line typed on standard input, after printing `prompt` (without its newline).

    Raises `EndOfInput` when the input ends before a line does.
    """
    sys.stdout.write(prompt)
    sys.stdout.flush()
    fd = sys.stdin.fileno()
    data = b""
    while not data.endswith(b"\n"):
        await anyio.wait_readable(fd)
        chunk = os.read(fd, 4096)
        if not chunk:
            if data:
                break  # the last line, without its newline
            sys.stdout.write("\n")
            raise EndOfInput("no reply given (the input ended); nothing was answered")
        data += chunk
    return data.decode(errors="replace").rstrip("\r\n")
