"""The follower finds a change's listeners by its scope."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import cast

import pytest

from automations.actors._follower import ChangeListeners, Follower
from automations.actors._hub import EventHub
from automations.model import Event, Scope, StorageError
from automations.persistence import StorePort, shard_of

A, B = Scope("p", "/a"), Scope("p", "/b")
EVENT: Event = None  # type: ignore[assignment]  # the listeners here only count calls


def test_only_the_scope_s_listeners_are_told() -> None:
    listeners = ChangeListeners()
    told: list[tuple[str, Scope]] = []
    listeners.add(A, lambda scope, event: told.append(("a", scope)))
    listeners.add(B, lambda scope, event: told.append(("b", scope)))
    listeners(A, EVENT)
    listeners(Scope("p", "/nobody"), EVENT)
    assert told == [("a", A)]


def test_a_listener_leaving_while_told_does_not_skip_the_others() -> None:
    listeners = ChangeListeners()
    told: list[str] = []

    def first(scope: Scope, event: Event) -> None:
        told.append("first")
        listeners.remove(A, first)

    listeners.add(A, first)
    listeners.add(A, lambda scope, event: told.append("second"))
    listeners(A, EVENT)
    listeners(A, EVENT)
    assert told == ["first", "second", "second"]


def test_removing_the_last_listener_forgets_the_scope() -> None:
    listeners = ChangeListeners()

    def listener(scope: Scope, event: Event) -> None:
        raise AssertionError("removed")

    listeners.add(A, listener)
    listeners.remove(A, listener)
    listeners.remove(B, listener)  # never added: nothing happens
    listeners(A, EVENT)
    assert listeners.scopes() == ()


def test_a_shard_listener_hears_every_scope_of_its_shard_and_no_other() -> None:
    listeners = ChangeListeners()
    heard: list[Scope] = []
    listeners.by_shard.add(shard_of(A), lambda scope, event: heard.append(scope))
    sibling = next(
        scope
        for n in range(10_000)
        if shard_of(scope := Scope("p", f"/sibling/{n}")) == shard_of(A) and scope != A
    )
    elsewhere = next(
        scope for n in range(10_000) if shard_of(scope := Scope("p", f"/e/{n}")) != shard_of(A)
    )
    for scope in (A, sibling, elsewhere):
        listeners(scope, EVENT)
    assert heard == [A, sibling]


class _Reader:
    """The one read the follower makes to route new commands, counted."""

    def __init__(self, scopes: list[Scope] | None) -> None:
        self.scopes, self.reads = scopes, 0

    async def command_scopes(self, after: int, upto: int) -> list[Scope]:
        self.reads += 1
        if self.scopes is None:
            raise StorageError("the database does not answer")
        return self.scopes


def _follower(reader: _Reader, *scopes: Scope) -> tuple[Follower, list[Scope]]:
    store = cast(StorePort, SimpleNamespace(reader=reader))
    follower, woken = Follower(store, EventHub()), list[Scope]()
    for scope in scopes:
        follower.add_command_listener(scope, partial(woken.append, scope))
    return follower, woken


@pytest.mark.anyio
async def test_new_commands_wake_only_their_scopes_inboxes() -> None:
    reader = _Reader([B])
    follower, woken = _follower(reader, A, B, Scope("p", "/c"))
    await follower._tell_commands(0, 7)
    assert (woken, reader.reads) == ([B], 1)


@pytest.mark.anyio
async def test_one_inbox_is_woken_without_a_read_and_all_are_if_the_read_fails() -> None:
    alone, woken = _follower(reader := _Reader([B]), A)
    await alone._tell_commands(0, 7)
    assert (woken, reader.reads) == ([A], 0)
    failing, woken = _follower(_Reader(None), A, B)
    await failing._tell_commands(0, 7)
    assert woken == [A, B]
