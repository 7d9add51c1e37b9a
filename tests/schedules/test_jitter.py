"""Jitter offsets: deterministic, in `[0, jitter)`, spread, the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from automations.model import ms_of
from automations.schedules import jitter_offset

SLOT = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
IDS = [f"automation_{k:026d}" for k in range(1000)]


@given(
    automation_id=st.text(min_size=1, max_size=40),
    slot_ms=st.integers(min_value=0, max_value=2**42),
    jitter_ms=st.integers(min_value=0, max_value=3_600_000),
)
def test_an_offset_is_a_whole_millisecond_within_the_jitter(
    automation_id: str, slot_ms: int, jitter_ms: int
) -> None:
    slot = datetime.fromtimestamp(slot_ms / 1000, tz=UTC)
    jitter = timedelta(milliseconds=jitter_ms)
    offset = jitter_offset(automation_id, slot, jitter)
    assert offset == jitter_offset(automation_id, slot, jitter)  # a function of its inputs
    assert offset % timedelta(milliseconds=1) == timedelta(0)
    if jitter_ms == 0:
        assert offset == timedelta(0)
    else:
        assert timedelta(0) <= offset < jitter


def test_offsets_spread_a_crowd_over_the_window_and_vary_by_slot() -> None:
    jitter = timedelta(seconds=10)
    offsets = [jitter_offset(i, SLOT, jitter) for i in IDS]
    per_second = Counter(int(o.total_seconds()) for o in offsets)
    assert sorted(per_second) == list(range(10))
    assert max(per_second.values()) <= 150  # no second holds more than 15%
    nxt = [jitter_offset(i, SLOT + timedelta(days=1), jitter) for i in IDS]
    assert sum(a != b for a, b in zip(offsets, nxt, strict=True)) > 900


def test_another_process_computes_the_same_offsets() -> None:
    """A separate interpreter, with another hash seed: the same instants to the ms."""
    jitter = timedelta(seconds=10)
    script = (
        "import sys\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from automations.schedules import jitter_offset\n"
        "slot = datetime.fromisoformat(sys.argv[1])\n"
        "for line in sys.stdin.read().split():\n"
        "    print(jitter_offset(line, slot, timedelta(seconds=10)) // timedelta(milliseconds=1))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script, SLOT.isoformat()],
        input="\n".join(IDS),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    theirs = [int(line) for line in done.stdout.split()]
    assert theirs == [ms_of(jitter_offset(i, SLOT, jitter)) for i in IDS]
    assert len(set(theirs)) > 900  # not a constant
