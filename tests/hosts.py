"""Several hosts on one machine: network namespaces joined to this one by veth pairs.

Host `i` is a namespace whose only link is a veth pair to the root namespace, on a
/24 of its own (the root side `.1`, the host `.2`): traffic goes only to addresses the
test made. A process started with `host.command(...)` lives in that namespace, so a
server reached at `host.gateway` is across a link the test can cut (`cut()`) and
restore (`restore()`), as a switch port or a cable would be. It needs root and
`ip netns`; elsewhere the tests that use it are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

__all__ = ["Host", "hosts"]

# Each `hosts()` takes its /16 at random in 10.200-10.249, so that two runs on one
# machine (two checkouts, say) do not claim the same addresses.
SUBNETS = range(200, 250)


@dataclass(frozen=True)
class Host:
    namespace: str
    link: str
    """The root side of the veth pair."""
    gateway: str
    """The root namespace's address on this host's link (where the server listens)."""
    address: str

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def cut(self) -> None:
        """Take the link down: packets to and from the host are dropped, no connection
        is closed (as a pulled cable)."""
        _ip("link", "set", self.link, "down")

    def restore(self) -> None:
        _ip("link", "set", self.link, "up")


def _ip(*argv: str) -> None:
    done = subprocess.run(["ip", *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(argv)} failed: {done.stderr.strip()}")


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "several hosts need root (network namespaces); run as root to test them"
    if shutil.which("ip") is None:
        return "several hosts need the ip command (iproute2)"
    probe = f"am-probe-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return f"network namespaces are not allowed here: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _free_subnet(seed: int) -> str:
    """A /16 of `SUBNETS` that no link of this machine has an address in: a run killed
    before its cleanup leaves its links, and a route through one would take the next
    run's traffic to a namespace nobody listens in."""
    shown = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    used = {int(m) for m in re.findall(r"inet 10\.(\d+)\.", shown)}
    free = [n for n in SUBNETS if n not in used]
    if not free:
        raise RuntimeError(f"every subnet 10.{SUBNETS[0]}-{SUBNETS[-1]} is in use here")
    return f"10.{free[seed % len(free)]}"


@contextlib.contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    """`count` hosts, removed on exit (skips the test where namespaces are unavailable)."""
    reason = _unavailable()
    if reason is not None:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:5]
    subnet = _free_subnet(int(tag, 16))
    made: list[Host] = []
    try:
        for i in range(1, count + 1):
            net = f"{subnet}.{i}"
            host = Host(f"am-{tag}-{i}", f"am{tag}{i}r", f"{net}.1", f"{net}.2")
            inner = f"am{tag}{i}n"
            _ip("netns", "add", host.namespace)
            made.append(host)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", host.namespace)
            _ip("addr", "add", f"{host.gateway}/24", "dev", host.link)
            _ip("link", "set", host.link, "up")
            inside = ["-n", host.namespace]
            _ip(*inside, "addr", "add", f"{host.address}/24", "dev", inner)
            _ip(*inside, "link", "set", inner, "up")
            _ip(*inside, "link", "set", "lo", "up")
        yield made
    finally:
        for host in made:
            subprocess.run(["ip", "link", "del", host.link], capture_output=True)
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
