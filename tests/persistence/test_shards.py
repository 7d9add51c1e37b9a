"""A scope's shard is the same in every process and on every host, and the scopes
spread over the shards evenly enough for a plan to share them out."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from automations.model import Scope
from automations.persistence import SHARDS, shard_of


def test_a_scope_has_the_same_shard_in_another_process() -> None:
    scope = Scope("project-a", "/repo/a")
    code = (
        "from automations.model import Scope; from automations.persistence import shard_of;"
        " print(shard_of(Scope('project-a', '/repo/a')))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert int(other.stdout) == shard_of(scope)
    assert 0 <= shard_of(scope) < SHARDS


def test_ten_thousand_scopes_fill_every_shard_within_twice_the_mean() -> None:
    counts = Counter(shard_of(Scope(f"project-{n}", f"/home/user-{n}")) for n in range(10_000))
    mean = 10_000 / SHARDS
    assert len(counts) == SHARDS
    assert mean / 2 < min(counts.values())
    assert max(counts.values()) < mean * 2
