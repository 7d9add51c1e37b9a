"""The follower finds a change's listeners by its scope."""

from __future__ import annotations

from automations.actors._follower import ScopedListeners
from automations.model import Event, Scope

A, B = Scope("p", "/a"), Scope("p", "/b")
EVENT: Event = None  # type: ignore[assignment]  # the listeners here only count calls


def test_only_the_scope_s_listeners_are_told() -> None:
    listeners = ScopedListeners()
    told: list[tuple[str, Scope]] = []
    listeners.add(A, lambda scope, event: told.append(("a", scope)))
    listeners.add(B, lambda scope, event: told.append(("b", scope)))
    listeners(A, EVENT)
    listeners(Scope("p", "/nobody"), EVENT)
    assert told == [("a", A)]


def test_a_listener_leaving_while_told_does_not_skip_the_others() -> None:
    listeners = ScopedListeners()
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
    listeners = ScopedListeners()

    def listener(scope: Scope, event: Event) -> None:
        raise AssertionError("removed")

    listeners.add(A, listener)
    listeners.remove(A, listener)
    listeners.remove(B, listener)  # never added: nothing happens
    listeners(A, EVENT)
    assert listeners._by_scope == {}
