"""Security: scopes hold by id and by cursor, files are private, and nothing in the
database can make the runtime run code."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest

import automations as am
from automations.persistence import lease_name
from automations.persistence.sqlite import lease_lock_path, liveness_lock_path

from ..integration.conftest import OpenRuntime, new

pytestmark = pytest.mark.anyio

SRC = Path(am.__file__).resolve().parent


def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_the_database_and_every_lock_file_are_private(
    db: Path, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory() as rt:
        await rt.create(new())
        owner = rt._services.owner
        assert _mode(db) == 0o600
        lease = lease_lock_path(str(db), lease_name(rt.scope))
        liveness = liveness_lock_path(str(db), owner)
        assert _mode(lease) == 0o600 and _mode(liveness) == 0o600
        assert _mode(os.path.dirname(lease)) == 0o700
        assert _mode(os.path.dirname(liveness)) == 0o700


@pytest.mark.parametrize(
    "other", [{"project": "project-b"}, {"directory": "/repo/other"}], ids=["project", "directory"]
)
async def test_another_scope_gets_nothing_by_id_or_by_cursor(
    runtime_factory: OpenRuntime, other: dict[str, str]
) -> None:
    async with runtime_factory() as a_rt, runtime_factory(**other) as b_rt:
        a = await a_rt.create(new(overlap=am.Overlap.ALLOW))
        runs = [await a_rt.wait((await a_rt.run_now(a.id)).id, timeout=10) for _ in range(3)]
        b = await b_rt.create(new())
        page = await b_rt.runs(a.id, limit=2)
        assert page == ([], None)
        assert await b_rt.runs(b.id, cursor=runs[0].id) == ([], None)  # A's cursor
        with pytest.raises(am.NotFound):
            await b_rt.get_run(runs[0].id)
        with pytest.raises(am.NotFound):
            await b_rt.update(a.id, title="mine now")
        async with b_rt.events(0) as events:
            first = await events.__anext__()
        assert isinstance(first, am.DefinitionUpdated) and first.automation.id == b.id


async def test_an_executor_named_in_the_database_is_never_imported(
    runtime_factory: OpenRuntime,
) -> None:
    module = "tests.reliability.never_imported"
    async with runtime_factory() as rt:
        a = await rt.create(new(executor=f"{module}:run"))
        failed = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert failed.error is not None
    assert "no executor named 'tests.reliability.never_imported:run'" in failed.error.message
    assert module not in sys.modules


def test_no_pickle_eval_or_exec_in_the_runtime() -> None:
    forbidden = re.compile(r"\b(import pickle|pickle\.|marshal\.|eval\(|exec\()")
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if forbidden.search(path.read_text())
    ]
    assert offenders == []
    # The only dynamic import reads what a person typed on the command line.
    importers = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "import_module(" in path.read_text()
    ]
    assert importers == ["executors/_python.py"]
