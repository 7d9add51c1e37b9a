"""The actor kernel, on its own: it knows nothing of automations."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import pytest

from automations.runtime import (
    ActorGroup,
    ActorRef,
    MailboxClosed,
    Reply,
    RestartIntensityExceeded,
)

pytestmark = pytest.mark.anyio


@dataclass
class Add:
    amount: int
    reply: Reply[int] | None = None


@dataclass
class Crash:
    reply: Reply[int] | None = None


@dataclass
class Counter:
    """Counts; crashes on `Crash`; idles (may stop) once `done` is set."""

    total: list[int]
    starts: list[int] = field(default_factory=list)
    stay_active: bool = True

    async def on_start(self) -> None:
        self.starts.append(1)

    async def handle(self, message: Add | Crash) -> None:
        if isinstance(message, Crash):
            raise RuntimeError("boom")
        self.total[0] += message.amount
        if message.reply is not None:
            message.reply.send(self.total[0])

    def on_crash(self, message: Add | Crash, error: BaseException) -> None:
        if message.reply is not None:
            message.reply.fail(error)

    def idle(self) -> bool:
        return not self.stay_active

    async def settle(self) -> None:
        pass


async def test_tell_and_ask() -> None:
    total = [0]
    exited: list[str] = []
    async with anyio.create_task_group() as tg:
        group: ActorGroup[Add | Crash] = ActorGroup(tg)
        ref: ActorRef[Add | Crash] = ActorRef("counter")
        group.spawn(ref, lambda: Counter(total), lambda r: exited.append(r.name))
        ref.tell(Add(2))
        ref.tell(Add(3))
        assert await ref.ask(lambda reply: Add(5, reply)) == 10
        await group.stop(grace=1)
    assert exited == ["counter"]
    with pytest.raises(MailboxClosed):
        ref.tell(Add(1))


async def test_a_crash_restarts_the_actor_and_keeps_its_mailbox() -> None:
    total, starts = [0], list[int]()
    async with anyio.create_task_group() as tg:
        group: ActorGroup[Add | Crash] = ActorGroup(tg, max_restarts=3, within=60)
        ref: ActorRef[Add | Crash] = ActorRef("counter")
        group.spawn(ref, lambda: Counter(total, starts), lambda r: None)
        ref.tell(Add(1))
        with pytest.raises(RuntimeError, match="boom"):
            await ref.ask(Crash)  # the asker learns of the crash
        assert await ref.ask(lambda reply: Add(1, reply)) == 2  # state survives in `total`
        await group.stop(grace=1)
    assert len(starts) == 2


async def test_too_many_crashes_escalate() -> None:
    total = [0]

    async def crash_three_times() -> None:
        async with anyio.create_task_group() as tg:
            group: ActorGroup[Add | Crash] = ActorGroup(tg, max_restarts=2, within=60)
            ref: ActorRef[Add | Crash] = ActorRef("counter")
            group.spawn(ref, lambda: Counter(total), lambda r: None)
            for _ in range(3):
                ref.tell(Crash())

    with pytest.raises(BaseExceptionGroup) as caught:
        await crash_three_times()
    assert caught.group_contains(RestartIntensityExceeded)


async def test_a_virtual_actor_stops_when_idle_and_its_mailbox_is_empty() -> None:
    total = [0]
    exited = anyio.Event()
    async with anyio.create_task_group() as tg:
        group: ActorGroup[Add | Crash] = ActorGroup(tg)
        ref: ActorRef[Add | Crash] = ActorRef("virtual")
        group.spawn(ref, lambda: Counter(total, stay_active=False), lambda r: exited.set())
        for _ in range(3):
            ref.tell(Add(1))  # queued before it ever runs: all are handled first
        await exited.wait()
        assert group.running == 0
    assert total == [3]


@dataclass
class Settling(Counter):
    """Idle at once, but settling waits for `settled`, as for a write in flight."""

    settling: anyio.Event = field(default_factory=anyio.Event)
    settled: anyio.Event = field(default_factory=anyio.Event)

    async def settle(self) -> None:
        self.settling.set()
        await self.settled.wait()


async def test_an_idle_actor_settles_before_it_stops_and_serves_what_came_meanwhile() -> None:
    total = [0]
    exited = anyio.Event()
    settling, settled = anyio.Event(), anyio.Event()
    starts: list[int] = []

    def factory() -> Settling:
        return Settling(total, starts, False, settling, settled)

    async with anyio.create_task_group() as tg:
        group: ActorGroup[Add | Crash] = ActorGroup(tg)
        ref: ActorRef[Add | Crash] = ActorRef("settling")
        group.spawn(ref, factory, lambda r: exited.set())
        await settling.wait()
        assert not exited.is_set()  # still settling: its mailbox stays open
        ref.tell(Add(4))  # arrives while it settles
        settled.set()
        await exited.wait()
        assert group.running == 0
    assert total == [4]
    assert starts == [1]  # the same activation served the late message


async def test_stop_cancels_actors_that_do_not_finish_within_the_grace() -> None:
    @dataclass
    class Stuck:
        async def on_start(self) -> None:
            pass

        async def handle(self, message: object) -> None:
            await anyio.sleep_forever()

        def on_crash(self, message: object, error: BaseException) -> None:
            pass

        def idle(self) -> bool:
            return False

        async def settle(self) -> None:
            pass

    async with anyio.create_task_group() as tg:
        group: ActorGroup[object] = ActorGroup(tg)
        ref: ActorRef[object] = ActorRef("stuck")
        group.spawn(ref, Stuck, lambda r: None)
        ref.tell("work")
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(5):
            await group.stop(grace=0.05)
