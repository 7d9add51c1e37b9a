"""Benchmarks: `python -m benchmarks WORKLOAD`, one JSON line per run on stdout."""
