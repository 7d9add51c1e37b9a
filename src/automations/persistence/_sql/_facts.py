"""The facts every store reports to the doctor, read with the shared SQL.

Each store passes its connection (`Sql`) and its way to tell whether a lock is held;
the tables are the same on both, so the statements are too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import msgspec

from ...model import Automation, Run, Scope, from_msgpack, ms_of, to_ms
from .._health import (
    ACTIVE_STATES,
    ActiveRunFact,
    Check,
    LeaseFact,
    OverdueFact,
    ScopeFact,
    StoreHealth,
)
from .._shards import shard_lease_name, shard_of
from ._connection import Sql

__all__ = ["Facts", "health", "lease_scope", "read_facts"]


class Facts(NamedTuple):
    scopes: tuple[ScopeFact, ...]
    leases: tuple[LeaseFact, ...]
    active_runs: tuple[ActiveRunFact, ...]
    overdue: tuple[OverdueFact, ...]
    overdue_total: int


def health(
    store: Literal["sqlite", "postgresql"],
    location: str,
    checks: Sequence[Check],
    facts: Facts | None = None,
) -> StoreHealth:
    """A store's report: its checks, and the facts when its tables could be read."""
    if facts is None:
        return StoreHealth(store=store, location=location, checks=tuple(checks), readable=False)
    return StoreHealth(
        store=store,
        location=location,
        checks=tuple(checks),
        readable=True,
        scopes=facts.scopes,
        leases=facts.leases,
        active_runs=facts.active_runs,
        overdue=facts.overdue,
        overdue_total=facts.overdue_total,
    )


def lease_scope(name: str) -> Scope | None:
    """The scope a scheduler lease's name (`_leases.lease_name`) stands for."""
    prefix = "scheduler:"
    if not name.startswith(prefix):
        return None
    try:
        project, directory = msgspec.json.decode(name[len(prefix) :], type=tuple[str, str])
    except msgspec.DecodeError:
        return None
    return Scope(project, directory)


def read_facts(
    sql: Sql,
    *,
    lease_alive: Callable[[str], bool | None],
    owner_alive: Callable[[str], bool | None],
    overdue_before_ms: int,
    limit: int,
) -> Facts:
    """The scopes, leases, active runs and overdue automations of a current schema;
    `lease_alive(name)` and `owner_alive(owner)` probe the locks."""

    def query(statement: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in sql.execute(statement, parameters).fetchall()]

    scopes = tuple(
        ScopeFact(scope=Scope(project, directory), automations=int(count), scheduled=int(due))
        for project, directory, count, due in query(
            "SELECT project, directory, count(*), count(next_fire_at) FROM automations"
            " GROUP BY project, directory ORDER BY project, directory LIMIT ?",
            (limit,),
        )
    )
    own: dict[Scope, LeaseFact] = {}
    shards: dict[str, LeaseFact] = {}
    for name, epoch, holder, acquired, renewed in query(
        "SELECT name, epoch, holder, acquired_at, renewed_at FROM leases ORDER BY name LIMIT ?",
        (limit,),
    ):
        scope = lease_scope(str(name))
        fact = LeaseFact(
            scope=scope or Scope("", ""),
            epoch=int(epoch),
            holder=str(holder),
            acquired_ms=int(acquired),
            renewed_ms=int(renewed),
            holder_alive=lease_alive(str(name)),
        )
        if scope is not None:
            own[scope] = fact
        else:
            shards[str(name)] = fact
    leases = _leading(scopes, own, shards)
    states = ", ".join(f"'{state}'" for state in ACTIVE_STATES)
    runs = tuple(
        _active_run(row, owner_alive)
        for row in query(
            "SELECT r.project, r.directory, r.id, r.automation_id, r.state, r.owner,"
            " coalesce((SELECT max(j.at) FROM journal j WHERE j.entity_id = r.id),"
            " r.triggered_at), a.body, r.body"
            " FROM runs r LEFT JOIN automations a ON a.id = r.automation_id"
            f" WHERE r.state IN ({states}) ORDER BY r.triggered_at, r.id LIMIT ?",
            (limit,),
        )
    )
    overdue = tuple(
        OverdueFact(scope=Scope(project, directory), automation_id=str(id), next_fire_ms=int(at))
        for project, directory, id, at in query(
            "SELECT project, directory, id, next_fire_at FROM automations"
            " WHERE next_fire_at < ? ORDER BY next_fire_at, id LIMIT ?",
            (overdue_before_ms, limit),
        )
    )
    total = query("SELECT count(*) FROM automations WHERE next_fire_at < ?", (overdue_before_ms,))
    return Facts(scopes, tuple(leases), runs, overdue, int(total[0][0]) if total else 0)


def _leading(
    scopes: Sequence[ScopeFact], own: dict[Scope, LeaseFact], shards: dict[str, LeaseFact]
) -> list[LeaseFact]:
    """Each scope's lease as it is led: its own, unless a fleet's shard leads it (its
    own lease is let go, or its holder is gone, and its shard's holder lives). The
    scopes' own leases without automations are named too."""
    leases = dict(own)
    for fact in scopes:
        mine = own.get(fact.scope)
        shard = shards.get(shard_lease_name(shard_of(fact.scope)))
        if shard is None or (mine is not None and mine.holder_alive is True):
            continue
        if mine is None or shard.holder_alive is True:
            leases[fact.scope] = msgspec.structs.replace(shard, scope=fact.scope)
    return list(leases.values())


def _active_run(row: tuple[Any, ...], owner_alive: Callable[[str], bool | None]) -> ActiveRunFact:
    project, directory, run_id, automation_id, state, owner, since, body, run_body = row
    since = int(since)
    if state == "scheduled":  # a retry or a jittered start waits for its time first
        starts = from_msgpack(bytes(run_body), Run).starts_at
        since = max(since, to_ms(starts))
    limit = None
    if body is not None:
        automation = from_msgpack(bytes(body), Automation)
        if automation.max_duration is not None:
            limit = ms_of(automation.max_duration)
    return ActiveRunFact(
        scope=Scope(project, directory),
        run_id=str(run_id),
        automation_id=str(automation_id),
        state=str(state),
        since_ms=since,
        owner=None if owner is None else str(owner),
        owner_alive=None if owner is None else owner_alive(str(owner)),
        max_duration_ms=limit,
    )
