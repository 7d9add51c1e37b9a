"""Group commit: batching, per-operation rollback, storage faults."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from automations.model import Conflict, StorageError, StoreClosed
from automations.persistence import Operation, SaveAutomation
from automations.persistence.sqlite import (
    Pragma,
    SqliteSql,
    SqliteStore,
    apply,
    open_sqlite_store,
)

from .helpers import SCOPE, automation

pytestmark = pytest.mark.anyio


class Gate(Operation[str], frozen=True):
    """An operation that holds the writer thread until the test opens the gate."""

    entered: threading.Event
    release: threading.Event


def apply_or_gate(sql: SqliteSql, operation: Operation[Any]) -> Any:
    """The store's own SQL, and the test's gate."""
    if isinstance(operation, Gate):
        operation.entered.set()
        operation.release.wait(timeout=10)
        return "gate"
    return apply(sql, operation)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with open_sqlite_store(tmp_path / "automations.db", how=apply_or_gate) as opened:
        yield opened


async def test_writes_that_wait_together_commit_together(store: SqliteStore) -> None:
    gate = Gate(threading.Event(), threading.Event())
    results: list[object] = []

    async def write(op: object) -> None:
        results.append(await store.write(op))  # type: ignore[arg-type]

    async with anyio.create_task_group() as tg:
        tg.start_soon(write, gate)
        await anyio.to_thread.run_sync(gate.entered.wait)
        for _ in range(100):
            tg.start_soon(store.create_automation, SCOPE, automation())
        await anyio.wait_all_tasks_blocked()
        gate.release.set()
    assert results == ["gate"]
    assert store.writer_stats.operations == 101
    assert store.writer_stats.batches == 2  # the gate alone, then all hundred at once
    assert len(await store.reader.automations(SCOPE)) == 100


async def test_writes_submitted_in_one_round_of_the_loop_reach_the_writer_as_one_batch(
    store: SqliteStore,
) -> None:
    # The writer thread is woken once the round is done, not by the first write: it
    # does not take a part of the round alone, nor the interpreter lock from the round.
    pending = [store.submit(SaveAutomation(SCOPE, automation(), None))]
    _hold_the_loop(0.05)  # a long round: a woken writer would take the first write alone
    pending += [store.submit(SaveAutomation(SCOPE, automation(), None)) for _ in range(49)]
    for write in pending:
        await write.outcome()
    assert (store.writer_stats.batches, store.writer_stats.operations) == (1, 50)


def _hold_the_loop(seconds: float) -> None:
    """Keep the event loop's thread busy in Python, as a long synchronous round does
    (the interpreter hands its lock to a waiting thread every few milliseconds)."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


async def test_a_failed_operation_rolls_back_alone(store: SqliteStore) -> None:
    existing = automation("existing")
    await store.create_automation(SCOPE, existing)
    gate = Gate(threading.Event(), threading.Event())
    outcomes: dict[str, object] = {}

    async def create(name: str, value: object) -> None:
        try:
            outcomes[name] = await store.create_automation(SCOPE, value)  # type: ignore[arg-type]
        except Conflict as exc:
            outcomes[name] = exc

    async with anyio.create_task_group() as tg:
        tg.start_soon(store.write, gate)
        await anyio.to_thread.run_sync(gate.entered.wait)
        tg.start_soon(create, "before", automation("before"))
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(create, "duplicate", existing)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(create, "after", automation("after"))
        await anyio.wait_all_tasks_blocked()
        gate.release.set()
    assert isinstance(outcomes["duplicate"], Conflict)
    assert isinstance(outcomes["before"], int) and isinstance(outcomes["after"], int)
    # The batch was applied again without the failed write: no gap in the journal.
    assert outcomes["after"] == outcomes["before"] + 1
    titles = {a.title for a in await store.reader.automations(SCOPE)}
    assert titles == {"existing", "before", "after"}


async def test_writes_submitted_together_commit_in_one_transaction_and_fail_alone(
    store: SqliteStore,
) -> None:
    existing = automation("existing")
    await store.create_automation(SCOPE, existing)
    batches = store.writer_stats.batches
    with store.together():
        duplicate = store.submit(SaveAutomation(SCOPE, existing, None))
        fresh = store.submit(SaveAutomation(SCOPE, automation("fresh"), None))
        with pytest.raises(RuntimeError, match="together"):
            await fresh.outcome()  # it reaches the writer only when the block ends
    with pytest.raises(Conflict):
        await duplicate.outcome()
    assert isinstance(await fresh.outcome(), int)
    assert store.writer_stats.batches == batches + 1  # one transaction for both
    titles = {a.title for a in await store.reader.automations(SCOPE)}
    assert titles == {"existing", "fresh"}


async def test_a_full_disk_fails_writes_clearly_and_recovers(store: SqliteStore) -> None:
    await store.create_automation(SCOPE, automation("first"))
    [(pages,)] = await store.write(Pragma("PRAGMA page_count"))
    await store.write(Pragma(f"PRAGMA max_page_count = {pages}"))
    big = [automation("x" * 100) for _ in range(200)]
    with pytest.raises(StorageError, match="full"):
        await store.create_automations(SCOPE, big)
    # Reads go on, and nothing acknowledged was lost.
    assert [a.title for a in await store.reader.automations(SCOPE)] == ["first"]
    await store.write(Pragma("PRAGMA max_page_count = 1073741823"))  # space is back
    await store.create_automations(SCOPE, big)
    assert len(await store.reader.automations(SCOPE)) == 201


async def test_writing_after_close_is_a_clear_error(tmp_path: Path) -> None:
    async with open_sqlite_store(tmp_path / "automations.db") as store:
        pass
    with pytest.raises(StoreClosed, match="closed"):
        await store.create_automation(SCOPE, automation())


STOPPED = "writer thread for .* stopped unexpectedly .*; close the runtime and open it again"


def _assert_stopped(error: BaseException) -> None:
    """The clear error of a dead writer thread, the thread's own failure chained."""
    assert isinstance(error, StorageError)
    assert "RuntimeError('a bug in the writer loop')" in str(error)
    assert isinstance(error.__cause__, RuntimeError)


async def test_writes_pending_when_the_writer_thread_dies_fail_with_a_clear_error(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    writer = store._writer
    entered, release = threading.Event(), threading.Event()

    def dying_commit(batch: object) -> None:  # raises outside the per-operation handling
        entered.set()
        release.wait(timeout=10)
        raise RuntimeError("a bug in the writer loop")

    monkeypatch.setattr(writer, "_commit", dying_commit)
    with anyio.fail_after(5):
        held = store.submit(SaveAutomation(SCOPE, automation("held"), None))
        await anyio.to_thread.run_sync(entered.wait, 5)
        queued = store.submit(SaveAutomation(SCOPE, automation("queued"), None))
        writer._flush()  # in the thread's queue now, as at the end of the loop's round
        unflushed = store.submit(SaveAutomation(SCOPE, automation("unflushed"), None))
        release.set()
        for pending in (held, queued, unflushed):
            with pytest.raises(StorageError, match=STOPPED) as caught:
                await pending.outcome()
            _assert_stopped(caught.value)
    deaths = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(deaths) == 1 and "writer thread" in deaths[0].getMessage()
    assert deaths[0].exc_info is not None and deaths[0].exc_info[0] is RuntimeError


async def test_writes_after_the_writer_thread_died_fail_at_once_and_closing_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dying_commit(batch: object) -> None:
        raise RuntimeError("a bug in the writer loop")

    with anyio.fail_after(5):  # a regression fails here instead of hanging
        async with open_sqlite_store(tmp_path / "automations.db") as store:
            monkeypatch.setattr(store._writer, "_commit", dying_commit)
            with pytest.raises(StorageError, match=STOPPED):
                await store.create_automation(SCOPE, automation("first"))
            with pytest.raises(StorageError, match=STOPPED) as caught:
                store.submit(SaveAutomation(SCOPE, automation(), None))
            _assert_stopped(caught.value)
            with pytest.raises(StorageError, match=STOPPED):
                await store.write(SaveAutomation(SCOPE, automation(), None))
            with pytest.raises(StorageError, match=STOPPED), store.together():
                store.submit(SaveAutomation(SCOPE, automation(), None))
            assert await store.reader.automations(SCOPE) == []  # reads go on
    with pytest.raises(StoreClosed, match="closed"):
        store.submit(SaveAutomation(SCOPE, automation(), None))


async def test_a_batch_committed_before_the_writer_thread_died_keeps_its_outcome(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its writes are durable: reporting them failed would have callers write them twice.
    published: list[int] = []
    store.add_commit_listener(lambda scope, event: published.append(event.seq))

    def dying_wake(batch: object, committed: bool) -> None:
        raise RuntimeError("a bug in the writer loop")

    monkeypatch.setattr(store._writer, "_wake", dying_wake)
    with anyio.fail_after(5):
        sequence = await store.create_automation(SCOPE, automation("durable"))
        assert published == [sequence]
        with pytest.raises(StorageError, match=STOPPED):
            await store.create_automation(SCOPE, automation("later"))
    assert [a.title for a in await store.reader.automations(SCOPE)] == ["durable"]
