"""The demo of what is built so far: definitions, schedules with DST, the durable ledger.

The live demo (a worker firing automations, a run blocked on a question, the answer)
needs the actors and the command line; until they land, `make demo` runs this, which
uses only the real layers underneath them and says so.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta

import anyio

from .model import (
    Blocker,
    Cron,
    Interval,
    NewAutomation,
    Once,
    Question,
    RunState,
    Scope,
    Trigger,
    ValidationError,
    advance,
    from_msgpack,
    new_automation_id,
    new_blocker_id,
    new_run,
    new_run_id,
    to_json,
)
from .model import Run as RunRecord
from .persistence import RUN_UPDATED, Store, open_store
from .schedules import build_automation

SCOPE = Scope("demo", "/demo")


def _say(text: str = "") -> None:
    print(text, flush=True)


async def main() -> None:
    _say("automations: foundation demo (the live worker demo arrives with the CLI)")
    now = datetime.now(UTC)
    examples = [
        NewAutomation(
            title="Morning brief",
            prompt="Summarise overnight alerts",
            timezone="Europe/Berlin",
            schedule=Cron("0 9 * * 1-5"),
        ),
        NewAutomation(
            title="Heartbeat",
            prompt="Check the queue depth",
            timezone="UTC",
            schedule=Interval(every=timedelta(seconds=30)),
        ),
        NewAutomation(
            title="Nightly at 02:30 Berlin",
            prompt="Rotate logs",
            timezone="Europe/Berlin",
            schedule=Cron("30 2 * * *"),
        ),
        NewAutomation(
            title="Tomorrow's reminder",
            prompt="Remind me",
            timezone="UTC",
            schedule=Once(at=now + timedelta(days=1)),
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="automations-demo-") as directory:
        path = os.path.join(directory, "demo.db")
        async with open_store(path) as store:
            _say(f"\ndatabase: {path} (WAL, synchronous=FULL)\n")
            created = []
            for new in examples:
                automation = build_automation(new, id=new_automation_id(), project="demo", now=now)
                await store.create_automation(SCOPE, automation)
                created.append(automation)
                fires = ", ".join(
                    f.strftime("%a %d %b %H:%M:%SZ") for f in automation.next_fires[:3]
                )
                _say(f"  {automation.title:<26} next: {fires}")
            _show_dst()
            _show_validation(now)
            await _show_ledger(store, created[0].id, now)


def _show_dst() -> None:
    _say("\nDST: '30 2 * * *' in Europe/Berlin around the 2026 changes")
    for start in (datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC)):
        new = NewAutomation(
            title="dst", prompt="x", timezone="Europe/Berlin", schedule=Cron("30 2 * * *")
        )
        automation = build_automation(new, id="automation_dst", project="demo", now=start)
        fires = ", ".join(f.strftime("%d %b %H:%MZ") for f in automation.next_fires[:2])
        _say(f"  from {start:%d %b}: {fires}")
    _say("  (spring: 02:30 does not exist, fires at 03:00 CEST; autumn: once, at 02:30 CEST)")


def _show_validation(now: datetime) -> None:
    bad = NewAutomation(title="", prompt="x", timezone="Mars/Base", schedule=Cron("0 0 31 2 *"))
    try:
        build_automation(bad, id="automation_bad", project="demo", now=now)
    except ValidationError as exc:
        _say("\nvalidation reports every problem at once:")
        for field, message in exc.details:
            _say(f"  {field}: {message}")


async def _show_ledger(store: Store, automation_id: str, now: datetime) -> None:
    run = new_run(
        id=new_run_id(),
        automation_id=automation_id,
        definition_revision=1,
        trigger=Trigger.MANUAL,
        triggered_at=now,
        attended=True,
    )
    blocker = Blocker(
        id=new_blocker_id(), request=Question("Deploy now?", ("yes", "no")), asked_at=now
    )
    history = [run]
    history.append(advance(history[-1], RunState.RUNNING, at=now))
    history.append(advance(history[-1], RunState.AWAITING_INPUT, at=now, blocker=blocker))
    history.append(advance(history[-1], RunState.RUNNING, at=now, steps=2))
    history.append(advance(history[-1], RunState.SUCCEEDED, at=now, result="deployed", cost=0.012))
    for previous, current in zip([None, *history], history, strict=False):
        expected = None if previous is None else previous.revision
        await store.save_run(SCOPE, current, expected_revision=expected, at=now)
    _say("\nthe ledger of one run, read back from the journal:")
    for entry in await store.reader.journal(SCOPE, 0, 100):
        if entry.kind == RUN_UPDATED:
            recorded = from_msgpack(entry.body, RunRecord)
            _say(f"  seq {entry.seq:>2}  rev {recorded.revision}  {recorded.state}")
    _say(f"\nwire format of the final revision:\n  {to_json(history[-1]).decode()}")
    live = await store.projections()
    await store.replay()
    same = live == await store.projections()
    _say(f"\nreplaying the journal rebuilds the projections exactly: {same}")


if __name__ == "__main__":
    anyio.run(main)
