"""`automations doctor` on both stores: a healthy database is exit 0; a planted stuck
run, a worker that is gone, an unreadable file (SQLite) and a damaged schema
(PostgreSQL) are found, each with what to do, and exit 1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import anyio
import msgspec
import pytest

import automations as am
from automations.model import RunState, Scope, advance
from automations.persistence import HANDED_OVER, CreateRun, diagnose_store, open_store

from ..persistence.helpers import run
from .conftest import Gate, OpenRuntime, new
from .fleets import until_workers

pytestmark = pytest.mark.anyio

# Root ignores file permissions; without these capabilities it obeys them.
_WITHOUT_OVERRIDES = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


class Finding(msgspec.Struct):
    check: str
    severity: str
    detail: str
    advice: str
    subject: str | None


class Report(msgspec.Struct):
    ok: bool
    store: str
    location: str
    findings: list[Finding]


def _doctor(location: str, *args: str, restricted: bool = False) -> tuple[int, Report]:
    prefix = _WITHOUT_OVERRIDES if restricted and os.geteuid() == 0 else []
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "automations", "--db", location, "doctor", "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, msgspec.json.decode(done.stdout, type=Report)


async def doctor(location: str, *args: str, restricted: bool = False) -> tuple[int, Report]:
    return await anyio.to_thread.run_sync(lambda: _doctor(location, *args, restricted=restricted))


def _listing(folder: Path) -> list[tuple[str, int, int]]:
    """Every file under `folder`, with its size and modification time."""
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    )


def problems(report: Report) -> list[Finding]:
    return [finding for finding in report.findings if finding.severity != "ok"]


async def test_a_healthy_database_with_its_worker_is_exit_0(
    runtime_factory: OpenRuntime, location: str, store_kind: str
) -> None:
    async with runtime_factory(clock=None) as rt:  # the wall clock: nothing is late
        await rt.create(new(schedule=am.Interval(every=timedelta(hours=1))))
        code, report = await doctor(location)
    assert problems(report) == [] and code == 0, report
    assert report.ok and report.store == store_kind
    checks = {finding.check for finding in report.findings}
    assert {"schema", "tables", "journal", "lease", "runs", "schedules"} <= checks
    (lease,) = [finding for finding in report.findings if finding.check == "lease"]
    assert "held by" in lease.detail and "renewed" in lease.detail


async def test_a_scope_a_fleet_leads_through_its_shard_is_led(
    runtime_factory: OpenRuntime, location: str
) -> None:
    """A fleet worker holds its shards' leases, not the scopes' own."""
    async with runtime_factory(clock=None, role="client") as client:
        await client.create(new(schedule=am.Interval(every=timedelta(hours=1))))
    async with runtime_factory(clock=None, scopes="all") as fleet:
        await until_workers(fleet, lambda ws: any(w.scopes for w in ws), fleet)
        code, report = await doctor(location)
    assert problems(report) == [] and code == 0, report
    (lease,) = [finding for finding in report.findings if finding.check == "lease"]
    assert f"held by {fleet._services.owner}" in lease.detail


async def test_a_stuck_run_and_an_overdue_automation_are_found(
    runtime_factory: OpenRuntime, location: str
) -> None:
    gate = Gate()
    # The manual clock stands months before the wall clock: the run has been running
    # since then, and the automation's next fire went by long ago.
    async with runtime_factory({"default": gate}) as rt:
        automation = await rt.create(new())
        run = await rt.run_now(automation.id)
        await gate.started.wait()
        code, report = await doctor(location)
        gate.release.set()
    assert code == 1 and not report.ok
    (stuck,) = [f for f in problems(report) if f.check == "runs"]
    assert stuck.subject == run.id and stuck.severity == "warning"
    assert "is running since" in stuck.detail
    assert f"automations cancel {run.id}" in stuck.advice
    (late,) = [f for f in problems(report) if f.check == "schedules"]
    assert late.subject == automation.id and late.severity == "error"
    assert "worker is behind" in late.advice  # its scope is led: the worker lags
    assert not [f for f in problems(report) if f.check == "lease"]


async def test_a_run_whose_process_is_gone_and_a_lease_nobody_holds_are_errors(
    runtime_factory: OpenRuntime, location: str
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        automation = await rt.create(new())
        await rt.run_now(automation.id)
        await gate.started.wait()
        health = await anyio.to_thread.run_sync(
            lambda: diagnose_store(location, overdue_before_ms=0)
        )
        gate.release.set()
    (active,) = health.active_runs
    assert active.owner_alive is True and active.state == "running"
    (lease,) = health.leases
    assert lease.holder_alive is True

    code, report = await doctor(location)  # the worker closed: nobody leads now
    assert code == 1
    (lease_finding,) = [f for f in problems(report) if f.check == "lease"]
    assert "that process is gone" in lease_finding.detail
    assert "automations serve" in lease_finding.advice


@pytest.mark.sqlite_only("file modes and unreadable files are SQLite's")
async def test_an_unreadable_file_is_found_and_changed_nothing(
    runtime_factory: OpenRuntime, location: str
) -> None:
    async with runtime_factory(clock=None) as rt:
        await rt.create(new(paused=True))
    path = Path(location)
    before = await anyio.to_thread.run_sync(_listing, path.parent)
    await anyio.to_thread.run_sync(path.chmod, 0o000)
    try:
        code, report = await doctor(location, restricted=True)
    finally:
        await anyio.to_thread.run_sync(path.chmod, 0o600)
    assert await anyio.to_thread.run_sync(_listing, path.parent) == before
    assert code == 1
    (unreadable,) = problems(report)
    assert unreadable.check == "file" and unreadable.severity == "error"
    assert "cannot be read by this user (mode 0000" in unreadable.detail
    assert "chmod 600" in unreadable.advice


@pytest.mark.sqlite_only("a file that is not a database is SQLite's")
def test_a_file_that_is_no_database_and_a_loose_mode_are_found(
    location: str, tmp_path: Path
) -> None:
    path = Path(location)
    path.write_bytes(b"SQLite format 3\x00" + b"damaged, only words " * 400)
    path.chmod(0o644)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, report = _doctor(location)
    assert code == 1
    by_check = {finding.check: finding for finding in problems(report)}
    assert by_check["file_modes"].advice == f"chmod 600 {location}"
    assert "cannot be read as a database" in by_check["file"].detail
    assert "restore it from a backup" in by_check["file"].advice
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created


@pytest.mark.sqlite_only("a file that is not a database is SQLite's")
def test_a_file_that_is_no_sqlite_at_all_gets_no_chmod_advice(location: str) -> None:
    """`--db /etc/passwd` by mistake: its mode is none of our business."""
    path = Path(location)
    path.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 50)
    path.chmod(0o644)
    code, report = _doctor(location)
    assert code == 1
    by_check = {finding.check: finding for finding in problems(report)}
    assert "file_modes" not in by_check
    assert "cannot be read as a database" in by_check["file"].detail


def _pg(location: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(location, autocommit=True) as connection:
        connection.execute(sql)


@pytest.mark.parametrize(
    ("damage", "check", "words"),
    [
        ("UPDATE meta SET value = '99' WHERE key = 'schema_version'", "schema", "Upgrade"),
        ("DROP TABLE progress", "tables", "tables missing from schema"),
    ],
)
async def test_a_damaged_postgresql_schema_is_found(
    runtime_factory: OpenRuntime,
    location: str,
    store_kind: str,
    damage: str,
    check: str,
    words: str,
) -> None:
    if store_kind != "postgresql":
        pytest.skip("a schema changed behind the store's back: PostgreSQL's fault")
    async with runtime_factory(clock=None) as rt:
        await rt.create(new(paused=True))
    await anyio.to_thread.run_sync(_pg, location, damage)
    code, report = await doctor(location)
    assert code == 1
    (found,) = problems(report)
    assert found.check == check and found.severity == "error"
    assert words in found.detail


def test_a_server_that_does_not_answer_is_found() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, report = _doctor(f"postgresql://someone:s3cret@127.0.0.1:{port}/automations")
    assert code == 1
    (found,) = problems(report)
    assert found.check == "reachable" and "pg_hba.conf" in found.advice
    assert "s3cret" not in found.detail


async def test_a_planted_run_whose_process_is_gone_is_an_error(
    runtime_factory: OpenRuntime, location: str
) -> None:
    async with runtime_factory() as rt:
        automation = await rt.create(new(paused=True))
    scheduled = run(automation.id)
    planted = advance(scheduled, RunState.RUNNING, at=scheduled.triggered_at)
    async with open_store(location) as store:
        await store.write(
            CreateRun(
                Scope("project-a", "/repo/a"),
                (scheduled, planted),
                (scheduled.triggered_at, planted.triggered_at),
                owner="ghost:1:gone",
            )
        )
    code, report = await doctor(location)
    assert code == 1
    (stuck,) = [f for f in problems(report) if f.check == "runs"]
    assert stuck.subject == planted.id and stuck.severity == "error"
    assert "its process ghost:1:gone is gone" in stuck.detail
    assert f"automations cancel {planted.id}" in stuck.advice


async def test_a_run_handed_over_with_a_lease_is_no_lost_run(
    runtime_factory: OpenRuntime, location: str
) -> None:
    """A fleet worker that hands a scope over hands its slots still to come with it:
    no process owns them until the new holder starts them, and that is no fault."""
    async with runtime_factory() as rt:
        automation = await rt.create(new(paused=True))
    waiting = run(automation.id)
    async with open_store(location) as store:
        scope = Scope("project-a", "/repo/a")
        await store.write(CreateRun(scope, (waiting,), (waiting.triggered_at,), owner=HANDED_OVER))
    code, report = await doctor(location, "--stuck-after", "100000000")
    assert [f for f in problems(report) if f.check == "runs"] == []
    assert code == 0, problems(report)


@pytest.mark.sqlite_only("damaged pages are SQLite's")
async def test_damaged_pages_fail_the_integrity_check(
    runtime_factory: OpenRuntime, location: str
) -> None:
    async with runtime_factory(clock=None) as rt:
        await rt.create_many(new(title=f"Brief {n}", prompt="x" * 2000) for n in range(30))
    path = anyio.Path(location)
    data = bytearray(await path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data), page):
        data[start + 8 : start + 64] = b"\xa5" * 56  # every page's cells after the first two
    await path.write_bytes(bytes(data))
    code, report = await doctor(location)
    assert code == 1
    damaged = [f for f in problems(report) if f.check in {"integrity", "file"}]
    assert damaged and damaged[0].severity == "error", report
    assert "restore" in damaged[0].advice


async def test_a_session_idle_in_a_transaction_is_found(
    runtime_factory: OpenRuntime, location: str, store_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_kind != "postgresql":
        pytest.skip("sessions of a server: PostgreSQL's")
    import psycopg

    from automations.persistence.postgresql import _health

    monkeypatch.setattr(_health, "IDLE_IN_TRANSACTION_SECONDS", 0)  # no waiting for 5 s
    async with runtime_factory(clock=None) as rt:
        await rt.create(new(paused=True))
    with psycopg.connect(location, application_name="forgetful") as idle:
        idle.execute("SELECT 1")  # a transaction is open now, and nothing follows
        health = await anyio.to_thread.run_sync(
            lambda: diagnose_store(location, overdue_before_ms=0)
        )
        backend = idle.info.backend_pid
    (session,) = [check for check in health.checks if check.name == "sessions"]
    assert session.severity == "warning" and "(forgetful)" in session.detail
    assert session.advice == f"end it: SELECT pg_terminate_backend({backend})"


@pytest.mark.sqlite_only("a write-ahead log no reader can apply is SQLite's")
async def test_a_wal_that_cannot_be_read_past_is_found_not_ignored(
    runtime_factory: OpenRuntime, location: str, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    async with runtime_factory(clock=None) as rt:
        await rt.create(new(paused=True))  # in the -wal, not yet in the file
        for name in (Path(location).name, Path(location).name + "-wal"):
            shutil.copyfile(Path(location).parent / name, copy / name)
    assert (copy / (Path(location).name + "-wal")).stat().st_size > 0
    copy.chmod(0o555)  # no -shm can be made beside it: only `immutable=1` opens it
    try:
        code, report = await doctor(str(copy / Path(location).name), restricted=True)
    finally:
        copy.chmod(0o755)
    assert code == 1
    (wal,) = [f for f in problems(report) if f.check == "wal"]
    assert wal.severity == "error" and "out of date" in wal.detail
