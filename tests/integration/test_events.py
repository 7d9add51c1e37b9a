"""A reader that falls behind costs bounded memory and still sees every event once."""

from __future__ import annotations

import anyio
import pytest

import automations as am
from automations.actors import SUBSCRIBER_BUFFER, EventHub
from automations.api import Runtime
from automations.model import Event, Scope

from .conftest import OpenRuntime, new

pytestmark = pytest.mark.anyio

BEHIND = SUBSCRIBER_BUFFER * 5 // 2


class Peak:
    """The most events the hub held for subscribers after any publish."""

    def __init__(self, hub: EventHub, monkeypatch: pytest.MonkeyPatch) -> None:
        self.most = 0
        publish = hub.publish

        def measured(scope: Scope, event: Event) -> None:
            publish(scope, event)
            self.most = max(self.most, hub.buffered())

        monkeypatch.setattr(hub, "publish", measured)


def _paused(count: int) -> list[am.NewAutomation]:
    return [new(title=f"batch {i}", paused=True) for i in range(count)]


async def _created(events: am.EventStream, count: int) -> list[am.Automation]:
    """The next `count` events, which must all be definitions, in consecutive seqs."""
    with anyio.fail_after(20):
        seen = [await anext(events) for _ in range(count)]
    assert [e.seq for e in seen] == list(range(seen[0].seq, seen[0].seq + count))
    assert all(isinstance(e, am.DefinitionUpdated) for e in seen)
    return [e.automation for e in seen if isinstance(e, am.DefinitionUpdated)]


async def _live(rt: Runtime, events: am.EventStream, after: int) -> None:
    """A change made now comes through next, right after seq `after`."""
    latest = await rt.create(new(title="live again", paused=True))
    with anyio.fail_after(10):
        event = await anext(events)
    assert event == am.DefinitionUpdated(seq=after + 1, automation=latest)


async def test_a_subscriber_that_stops_reading_gets_every_event_once_from_the_journal(
    runtime_factory: OpenRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with runtime_factory() as rt:
        peak = Peak(rt._services.hub, monkeypatch)
        first = await rt.create(new(paused=True))
        async with rt.events(0) as events:
            opening = await anext(events)  # from the journal; subscribed from here on
            assert opening == am.DefinitionUpdated(seq=opening.seq, automation=first)
            # One commit publishes them all while nobody reads: the buffer fills, no more.
            batch = await rt.create_many(_paused(BEHIND))
            assert peak.most == SUBSCRIBER_BUFFER
            assert await _created(events, BEHIND) == batch
            await _live(rt, events, opening.seq + BEHIND)
        assert peak.most == SUBSCRIBER_BUFFER
        assert rt._services.hub.buffered() == 0  # closing the stream let go of it all


async def test_a_subscriber_behind_another_process_gets_every_event_once_from_the_journal(
    runtime_factory: OpenRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's commits come through the journal follower, a page at a time."""
    async with runtime_factory() as worker, runtime_factory() as rt:
        peak = Peak(rt._services.hub, monkeypatch)
        first = await worker.create(new(paused=True))
        published = 0
        all_published = anyio.Event()

        def count(scope: Scope, event: Event) -> None:
            nonlocal published
            if isinstance(event, am.DefinitionUpdated) and event.automation.title != first.title:
                published += 1
                if published == BEHIND:
                    all_published.set()

        rt._supervisor.follower.add_listener(rt._services.scope, count)
        async with rt.events(0) as events:
            opening = await anext(events)
            assert opening == am.DefinitionUpdated(seq=opening.seq, automation=first)
            batch = await worker.create_many(_paused(BEHIND))
            with anyio.fail_after(10):
                await all_published.wait()
            assert peak.most == SUBSCRIBER_BUFFER
            assert await _created(events, BEHIND) == batch
            await _live(rt, events, opening.seq + BEHIND)
        assert peak.most == SUBSCRIBER_BUFFER


async def test_wait_returns_the_end_to_a_waiter_that_slept_through_many_revisions(
    runtime_factory: OpenRuntime,
) -> None:
    async def agent(ctx: am.RunContext) -> str:
        return "".join([await ctx.ask(am.Question(f"Part {i}?")) for i in range(3)])

    ended: list[am.Run] = []
    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)

        async def wait_for_the_end() -> None:
            ended.append(await rt.wait(run.id, timeout=10))

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_for_the_end)
            seen = 0
            for part in "abc":
                blocked = await rt.wait(
                    run.id, until=am.RunState.AWAITING_INPUT, newer_than=seen, timeout=10
                )
                assert blocked.state is am.RunState.AWAITING_INPUT and blocked.blocker is not None
                await rt.answer(run.id, blocked.blocker.id, part)
                seen = blocked.revision
        assert rt._services.hub._run_watchers == {}
    assert [(r.state, r.result) for r in ended] == [(am.RunState.SUCCEEDED, "abc")]
