"""A command in a real pseudo-terminal, for the tests of prompts, Ctrl-C and Ctrl-D.

The child is the session leader of the pty, which is its controlling terminal, so a
`\\x03` written to the master is a SIGINT from the line discipline, exactly as when
a person presses Ctrl-C, and `\\x04` at the start of a line is the end of input.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path


def _take_the_terminal() -> None:  # runs in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    # As a shell starts a command: Ctrl-C interrupts, whatever this test process (an
    # xdist worker, after other tests) had made of SIGINT. Python installs its handler
    # only for a SIGINT that is not ignored at start.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """`automations ARGS` attached to a fresh pseudo-terminal."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "automations", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_take_the_terminal,
        )
        os.close(slave)
        self.seen = ""

    def read_until(self, needle: str, timeout: float = 30.0) -> str:
        """What the terminal showed until `needle` (polling with a deadline)."""
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            if not self._read(deadline - time.monotonic()):
                raise AssertionError(f"no {needle!r} on the terminal: {self.seen!r}")
        return self.seen

    def _read(self, timeout: float) -> bool:
        if timeout <= 0:
            return False
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed its side
            return False
        self.seen += chunk.decode(errors="replace")
        return bool(chunk)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self, timeout: float = 30.0) -> int:
        """The exit code, reading what it prints meanwhile; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"still running after {timeout}s: {self.seen!r}")
            self._read(min(0.05, deadline - time.monotonic()))
        while self._read(0.05):
            pass
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


class Worker:
    """`automations serve` in the background, its output in a file (no terminal)."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.log = cwd / f"serve-{time.monotonic_ns()}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "automations", "serve", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
            )

    def read_until(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while needle not in (text := self.log.read_text(errors="replace")):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"serve never said {needle!r}: {text!r}")
            time.sleep(0.05)  # polling a subprocess's log with a deadline
        return text

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log.read_text(errors="replace")
