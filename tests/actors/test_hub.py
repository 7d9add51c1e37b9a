"""The hub holds a bounded amount for each reader, whatever the publish rate."""

from __future__ import annotations

import math

import anyio
import msgspec
import pytest

from automations.actors import SUBSCRIBER_BUFFER, EventHub, SubscriptionLagged
from automations.model import DefinitionUpdated, Event, Run, RunState, RunUpdated, advance

from ..persistence.helpers import NOW, OTHER, SCOPE, automation
from ..persistence.helpers import run as make_run

pytestmark = pytest.mark.anyio


def _definitions(count: int) -> list[Event]:
    defined = automation()
    return [DefinitionUpdated(seq=seq, automation=defined) for seq in range(1, count + 1)]


def _revisions(count: int) -> list[Run]:
    """`count` revisions of one running run, numbered from 2 on."""
    running = advance(make_run("automation_1"), RunState.RUNNING, at=NOW)
    return [msgspec.structs.replace(running, revision=2 + i) for i in range(count)]


async def test_a_subscriber_that_does_not_read_holds_at_most_the_bound_then_lags() -> None:
    hub = EventHub()
    idle = hub.subscribe(SCOPE)
    reading = hub.subscribe(SCOPE)
    elsewhere = hub.subscribe(OTHER)
    assert math.isfinite(idle._receive.statistics().max_buffer_size)
    published = _definitions(SUBSCRIBER_BUFFER * 5 // 2)
    read: list[Event] = []
    for event in published:
        hub.publish(SCOPE, event)
        assert hub.buffered() <= SUBSCRIBER_BUFFER + 1  # the idle one's, the reader's one
        read.append(await reading.receive())
    assert read == published  # a reader that keeps up is fed everything
    assert hub.buffered() == SUBSCRIBER_BUFFER

    held = [await idle.receive() for _ in range(SUBSCRIBER_BUFFER)]
    assert held == published[:SUBSCRIBER_BUFFER]  # the first ones, in order
    for _ in range(2):  # then it says so, every time it is asked
        with pytest.raises(SubscriptionLagged):
            await idle.receive()
    with pytest.raises(anyio.WouldBlock):
        elsewhere._receive.receive_nowait()  # another scope's events never reach it

    idle.close()
    hub.publish(SCOPE, DefinitionUpdated(seq=len(published) + 1, automation=automation()))
    assert hub.buffered() == 1  # only the reader's
    reading.close()
    elsewhere.close()
    assert hub.buffered() == 0


async def test_a_lagging_subscriber_waiting_to_receive_is_told_once_its_buffer_is_read() -> None:
    hub = EventHub()
    feed = hub.subscribe(SCOPE)
    outcome: list[object] = []

    async def consume() -> None:
        while True:
            try:
                outcome.append((await feed.receive()).seq)
            except SubscriptionLagged as lagged:
                outcome.append(type(lagged))
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await anyio.wait_all_tasks_blocked()
        for event in _definitions(SUBSCRIBER_BUFFER + 5):  # no scheduling round between
            hub.publish(SCOPE, event)
            assert hub.buffered() <= SUBSCRIBER_BUFFER
    # The first goes straight to the waiting receiver, the next fill the buffer.
    assert outcome == [*range(1, SUBSCRIBER_BUFFER + 2), SubscriptionLagged]
    feed.close()


async def test_a_run_watch_holds_only_the_newest_revision() -> None:
    hub = EventHub()
    revisions = _revisions(10_000)
    with hub.watch_run(revisions[0].id, lambda run: run.state.is_terminal) as watch:
        for revision in revisions:
            hub.publish(SCOPE, RunUpdated(seq=revision.revision, run=revision))
        hub.publish(SCOPE, RunUpdated(seq=1, run=revisions[10]))  # an older one, late
        assert await watch.after(0) == revisions[-1]
        assert vars(watch).keys() == {"_wanted", "_held", "_offered"}  # no buffer
    assert hub._run_watchers == {}


async def test_a_run_watch_keeps_the_wanted_revision_though_the_run_left_that_state() -> None:
    hub = EventHub()
    running = _revisions(1)[0]
    waiting = msgspec.structs.replace(
        running, state=RunState.AWAITING_INPUT, revision=running.revision + 1
    )
    again = msgspec.structs.replace(running, revision=waiting.revision + 1)
    got: list[Run] = []

    async def waiter() -> None:
        got.append(await watch.after(running.revision))

    with hub.watch_run(running.id, lambda run: run.state is RunState.AWAITING_INPUT) as watch:
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            hub.publish(SCOPE, RunUpdated(seq=1, run=running))  # not newer: it sleeps on
            await anyio.wait_all_tasks_blocked()
            assert got == []
            for revision in (waiting, again):  # both before the waiter is scheduled
                hub.publish(SCOPE, RunUpdated(seq=revision.revision, run=revision))
    assert got == [waiting]
