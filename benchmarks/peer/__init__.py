"""The peer of `python -m benchmarks compare`: APScheduler 4 (4.0.0a6) on its own
durable SQLite data store, on the same three workloads.

It runs in an environment of its own (`requirements.txt`, installed by `compare` into
`.peer-venv/`), never in ours: `python -m benchmarks.peer burst|interval|register`,
one JSON line on stdout each. `README.md` here says what it measures and how
APScheduler persists, as read from its source.
"""
