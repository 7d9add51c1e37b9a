"""The benchmark harness runs in a tiny smoke mode, so it cannot rot (no speed asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from benchmarks._common import start_worker
from benchmarks._telemetry import Observed

from benchmarks import compare

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1
    line: dict[str, Any] = json.loads(lines[0])
    return line


def test_burst_benchmark_prints_one_json_line() -> None:
    line = _run("burst")
    assert line["bench"] == "burst" and line["ok"] is True
    assert line["completed"] == line["n"] == 50
    assert line["outcomes"] == {"succeeded": 50}
    assert line["jobs_per_s"] > 0 and line["e2e_latency_ms"]["p99"] >= line["e2e_latency_ms"]["p50"]
    assert line["disk_commit_us"]["p50"] > 0


def test_journal_benchmark_prints_one_json_line() -> None:
    line = _run("journal")
    assert line["bench"] == "journal" and line["ok"] is True
    points = [(r["durability"], r["writers"]) for r in line["results"]]
    assert points == [("full", 1), ("full", 10), ("normal", 1), ("normal", 10)]
    assert all(r["transitions"] > 0 and r["transitions_per_s"] > 0 for r in line["results"])
    assert line["durability"] == "full,normal" and line["cpu_count"] >= 1
    assert line["versions"]["automations"]


def test_interval_benchmark_prints_one_json_line() -> None:
    line = _run("interval")
    assert line["bench"] == "interval" and line["ok"] is True
    assert line["executed"] == line["expected"] == 10
    assert sum(line["jobs_per_scheduled_second"]) == 10
    assert line["fire_lag_ms"]["p50"] is not None


def test_downtime_benchmark_prints_one_json_line() -> None:
    line = _run("downtime")
    assert line["bench"] == "downtime" and line["ok"] is True
    assert line["records"] == line["n"] == 20
    # Down 09:00-10:00: 09:01-09:58 are missed; 09:59, 60 s late, is still on time.
    assert line["missed_slots"] == 20 * 58
    assert line["wall_s"] > 0


def test_register_benchmark_prints_one_json_line() -> None:
    line = _run("register")
    assert line["bench"] == "register" and line["ok"] is True
    assert line["add"]["one_by_one"] + line["add"]["bulk"] == line["n"] == 300
    assert line["add"]["schedules_per_s"] == line["add"]["one_by_one_per_s"] > 0
    assert line["cold_start"]["ready_s"] > 0 and line["cold_start"]["peak_rss_mb"] > 0
    assert line["durability"] == "full"
    assert line["disk_commit_us"]["p50"] > 0 and line["disk_commit_us"]["mean"] > 0


def test_blockers_benchmark_measures_in_process_and_from_a_client() -> None:
    line = _run("blockers")
    assert line["bench"] == "blockers" and line["ok"] is True
    latency = line["answer_to_running_ms"]
    for side in ("in_process", "from_client"):
        assert 0 < latency[side]["p50"] <= latency[side]["p99"] <= latency[side]["max"]


def test_cancel_benchmark_prints_one_json_line() -> None:
    line = _run("cancel")
    assert line["bench"] == "cancel" and line["ok"] is True and line["n"] == 5
    assert 0 < line["cancel_to_stopped_ms"]["p50"] <= line["cancel_to_stopped_ms"]["max"]


def test_compare_runs_our_side_of_every_shared_workload() -> None:
    line = _run("compare")
    assert line["bench"] == "compare" and line["ok"] is True
    assert sorted(line["runs"]["ours"]) == ["burst", "interval", "register"]
    assert line["medians"]["burst: jobs/s"]["ours"] > 0
    assert line["medians"]["burst: jobs/s"]["peer"] is None  # the peer is not installed in CI
    assert line["disk_commit_us_p50"] > 0


def test_compare_ratios_say_how_many_times_better() -> None:
    assert compare.ratio(4000.0, 40.0, higher_is_better=True) == 100.0
    assert compare.ratio(20.0, 2000.0, higher_is_better=False) == 100.0
    assert compare.ratio(None, 40.0, higher_is_better=True) is None
    ours = {"burst": [{"jobs_per_s": 3000}, {"jobs_per_s": 4000}, {"jobs_per_s": 5000}]}
    peer = {"burst": [{"jobs_per_s": 50}, {"jobs_per_s": 40}, {"jobs_per_s": 45}]}
    text = compare.table(ours, peer)
    assert "| burst: jobs/s | 4,000.0 | 45.0 | 88.9x | >= 100x |" in text


def test_http_benchmark_prints_one_json_line() -> None:
    line = _run("http")
    assert line["bench"] == "http" and line["ok"] is True
    assert line["http"]["completed"] == line["n"] == 30
    assert line["http"]["requests_per_s"] > 0 and line["in_process"]["runs_per_s"] > 0
    assert line["fanout"]["deliveries"] == 5 * 5
    assert line["fanout"]["commit_to_delivery_ms"]["p99"] is not None


def test_backfill_benchmark_prints_one_json_line() -> None:
    line = _run("backfill")
    assert line["bench"] == "backfill" and line["ok"] is True and line["n"] == 10
    assert line["slots_per_s"] > 0 and line["jitter_offset_us"] > 0


def test_failover_benchmark_kills_a_holder_and_times_the_standby() -> None:
    line = _run("failover")
    assert line["bench"] == "failover" and line["ok"] is True and len(line["rounds"]) == 1
    (round,) = line["rounds"]
    assert round["lease_s"] > 0 and round["first_fire_s"] > 0 and round["its_fire_lag_s"] >= 0


def test_burst_with_telemetry_traces_and_counts_every_run() -> None:
    line = _run("burst", "--telemetry")
    assert line["ok"] is True and line["telemetry"] is True
    assert line["spans"] == line["runs_counted"] == 50


def test_overhead_benchmark_compares_telemetry_off_and_on() -> None:
    line = _run("overhead")
    assert line["bench"] == "overhead" and line["ok"] is True
    assert [r["telemetry"] for r in line["runs"]["burst"]["off"]] == [False]
    assert [r["telemetry"] for r in line["runs"]["interval"]["on"]] == [True]
    assert line["runs"]["interval"]["on"][0]["spans"] == 10
    cost = line["medians"]["burst: jobs_per_s"]["cost"]
    assert cost is not None and cost > 0
    assert line["medians"]["burst: cpu_us_per_run"]["cost_paired"] is not None
    for run in (line["runs"]["burst"]["on"][0], line["runs"]["interval"]["off"][0]):
        # The collector's share: part of the CPU time, counted per generation.
        assert 0 <= run["cpu_us_per_run_outside_gc"] <= run["cpu_us_per_run"]
        assert len(run["gc"]["collections"]) == 3


def test_calls_counts_a_runs_python_calls_by_who_is_called() -> None:
    line = _run("calls", "--telemetry")
    assert line["bench"] == "calls" and line["ok"] is True
    assert line["calls_per_run"] > 0
    assert line["calls_per_run"] == pytest.approx(sum(line["by_group"].values()))
    assert line["by_group"]["opentelemetry"] > 0  # the spans' share, told apart


def test_calls_profiles_the_interval_and_lists_the_most_called() -> None:
    line = _run("calls", "--workload", "interval", "--telemetry", "--top", "3")
    assert line["bench"] == "calls" and line["workload"] == "interval" and line["ok"] is True
    assert line["runs_added"] == 5  # one more slot of five automations
    assert line["by_group"]["opentelemetry"] > 0
    assert len(line["top"]) == 3 and all(calls > 0 for _, calls in line["top"])


def test_fleet_benchmark_prints_one_json_line() -> None:
    line = _run("fleet")
    assert line["bench"] == "fleet" and line["ok"] is True
    assert (line["scopes"], line["workers"]) == (4, 2)
    assert line["max_led"] <= 3  # a fair share of 2, and the slack of 1
    assert line["ready_s"] > 0 and line["rebalance_s"] > 0
    assert all(rss > 0 for rss in line["rss_mb"])


def test_fleet_benchmark_fires_on_an_interval_each_slot_once() -> None:
    line = _run("fleet", "--interval", "1")
    assert line["bench"] == "fleet" and line["ok"] is True
    assert line["fired_twice"] == 0 and line["expected"] == 4 * 2  # 4 automations, 2 s
    assert sum(line["outcomes"].values()) <= line["expected"]
    assert 0 < line["fired"] <= line["expected"] and line["fires_per_s"] > 0
    assert 0 <= line["fire_lag_ms"]["p50"] <= line["fire_lag_ms"]["max"]


def test_fleet_benchmark_kills_a_worker_and_starts_another_while_they_fire() -> None:
    line = _run("fleet", "--interval", "1", "--churn")
    assert line["bench"] == "fleet" and line["ok"] is True and line["fired_twice"] == 0
    assert line["rebalance_s"] > 0 and line["rejoin_s"] > 0
    assert line["fired"] <= line["expected"] == 4 * 2


def test_a_benchmark_worker_is_stopped_whatever_ends_the_block(tmp_path: Path) -> None:
    pids: list[int] = []

    async def fail_while_serving() -> None:
        async with start_worker("benchmarks._fleet_worker", str(tmp_path / "fleet.db")) as worker:
            pids.append(worker.pid)
            raise LookupError("the benchmark failed")

    with pytest.raises(LookupError):
        anyio.run(fail_while_serving)
    (pid,) = pids
    with pytest.raises(ChildProcessError):  # reaped: nothing left of it
        os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize(("processor", "ratio", "kept"), [("simple", 1.0, 3), ("batch", 0.0, 0)])
def test_telemetry_options_choose_the_span_processor_and_the_sampler(
    processor: str, ratio: float, kept: int
) -> None:
    observed = Observed("traces", processor, ratio)
    tracer = observed.options["tracing"].get_tracer("test")
    for _ in range(3):
        tracer.start_span("automation.run").end()
    line = observed.fields()  # shuts the provider down: a batch processor exports first
    assert (line["span_processor"], line["sample_ratio"], line["spans"]) == (processor, ratio, kept)
