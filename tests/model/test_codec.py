from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from automations.model import (
    AfterCount,
    Automation,
    AutomationPatch,
    Blocker,
    Cron,
    DefinitionUpdated,
    Event,
    Interval,
    Missed,
    NewAutomation,
    Once,
    Question,
    Run,
    RunState,
    StopReason,
    Trigger,
    ValidationError,
    advance,
    as_duration,
    from_builtins,
    from_json,
    from_ms,
    from_msgpack,
    new_run,
    to_builtins,
    to_json,
    to_ms,
    to_msgpack,
)
from automations.schedules import build_automation

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _automation() -> Automation:
    new = NewAutomation(
        title="Morning brief",
        prompt="Summarise",
        timezone="Europe/Berlin",
        schedule=Cron("0 9 * * 1-5"),
        stop=AfterCount(3),
        blocker_timeout=timedelta(minutes=5),
    )
    return build_automation(new, id="automation_1", project="p", now=NOW)


def _stopped_run() -> Run:
    run = new_run(
        id="automation_run_1",
        automation_id="automation_1",
        definition_revision=1,
        trigger=Trigger.SCHEDULE,
        triggered_at=NOW,
        attended=False,
    )
    missed = Missed(first=NOW, last=NOW + timedelta(hours=1), count=2)
    return advance(
        run, RunState.STOPPED, at=NOW, stop_reason=StopReason.MISSED_SCHEDULE, missed=missed
    )


def test_wire_names_are_camel_case_and_times_are_epoch_ms() -> None:
    wire = json.loads(to_json(_automation()))
    assert wire["createdAt"] == int(NOW.timestamp() * 1000) // 1
    assert isinstance(wire["nextFireAt"], int)
    assert wire["blockerTimeout"] == 300_000
    assert wire["catchupWindow"] == 60_000
    assert wire["schedule"] == {"type": "cron", "expression": "0 9 * * 1-5"}
    assert wire["stop"] == {"type": "count", "count": 3}
    assert wire["where"] == {"project": "p", "worktree": None}
    assert "next_fire_at" not in wire and "failureStreak" in wire


def test_times_are_truncated_to_the_millisecond_so_round_trips_are_exact() -> None:
    automation = _automation()
    assert automation.created_at.microsecond == 123000
    assert from_json(to_json(automation), Automation) == automation
    assert from_msgpack(to_msgpack(automation), Automation) == automation


@pytest.mark.parametrize("value", [_automation, _stopped_run])
def test_json_and_msgpack_round_trip(value: object) -> None:
    obj = value()  # type: ignore[operator]
    tp = type(obj)
    assert from_json(to_json(obj), tp) == obj
    assert from_msgpack(to_msgpack(obj), tp) == obj
    assert to_builtins(obj) == json.loads(to_json(obj))


def test_aware_datetimes_in_any_zone_become_utc() -> None:
    at = datetime(2030, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    once = Once(at=at)
    assert once.at == at and once.at.utcoffset() == timedelta(0)
    assert json.loads(to_json(once)) == {"type": "once", "at": int(at.timestamp() * 1000)}


def test_events_are_tagged_with_pawworks_type_names() -> None:
    event = DefinitionUpdated(seq=7, automation=_automation())
    wire = json.loads(to_json(event))
    assert wire["type"] == "automation.definition.updated" and wire["seq"] == 7
    decoded: object = from_json(to_json(event), Event)  # type: ignore[arg-type]
    assert decoded == event


def test_enums_equal_their_wire_strings() -> None:
    wire: list[str] = ["awaiting_input", "previous_run_awaiting_input"]
    assert wire == [RunState.AWAITING_INPUT, StopReason.PREVIOUS_RUN_AWAITING_INPUT]
    assert RunState("succeeded").is_terminal and RunState.SCHEDULED.is_active


def test_unknown_fields_are_rejected_for_inputs() -> None:
    data = {
        "title": "t",
        "prompt": "p",
        "timezone": "UTC",
        "schedule": {"type": "interval", "every": 60_000},
        "colour": "blue",
    }
    with pytest.raises(ValidationError) as caught:
        from_json(json.dumps(data), NewAutomation, unknown="unsupported_automation_field")
    assert caught.value.details == [("colour", "unsupported_automation_field")]
    with pytest.raises(ValidationError) as caught:
        from_builtins({"titel": "x"}, AutomationPatch, unknown="unsupported_automation_field")
    assert caught.value.details == [("titel", "unsupported_automation_field")]


def test_stored_types_tolerate_fields_from_newer_code() -> None:
    wire = json.loads(to_json(_automation()))
    wire["someFutureField"] = {"x": 1}
    assert from_json(json.dumps(wire), Automation) == _automation()


def test_bad_values_name_their_wire_path() -> None:
    data = {
        "title": "t",
        "prompt": "p",
        "timezone": "UTC",
        "schedule": {"type": "interval", "every": "soon"},
    }
    with pytest.raises(ValidationError) as caught:
        from_json(json.dumps(data), NewAutomation)
    (field, message), *_ = caught.value.details
    assert field == "schedule.every" and message.startswith("invalid_value")
    with pytest.raises(ValidationError) as caught:
        from_json(b"{not json", NewAutomation)
    assert caught.value.details[0][1].startswith("malformed_input")
    with pytest.raises(ValidationError) as caught:
        from_json(b'{"title": "t"}', NewAutomation)
    assert caught.value.details == [("prompt", "required")]


def test_patch_lists_only_what_is_set() -> None:
    patch = AutomationPatch(title="New", variant=None)
    assert patch.changes() == {"title": "New", "variant": None}
    assert json.loads(to_json(patch)) == {"title": "New", "variant": None}


def test_structs_are_frozen() -> None:
    run = _stopped_run()
    with pytest.raises(AttributeError):
        run.state = RunState.RUNNING  # type: ignore[misc]
    blocker = Blocker(id="b", request=Question("Deploy?", options=("yes", "no")), asked_at=NOW)
    assert msgspec.json.decode(to_json(blocker))["request"]["type"] == "question"
    assert Interval(every=timedelta(seconds=1.5)).every == timedelta(milliseconds=1500)


def test_times_encode_to_their_own_milliseconds_past_the_memo_of_recent_ones() -> None:
    # The encoder remembers recent times' milliseconds; equal instants and durations
    # of the two kinds must never answer for each other, nor survive a full memo.
    stamps = [1_790_000_000_000 + 7 * i for i in range(3_000)]
    values: list[datetime | timedelta] = []
    for ms in stamps:
        values += [from_ms(ms), as_duration(timedelta(milliseconds=ms % 100_000))]
    values += values[:10]  # seen again after the memo was cleared
    assert msgspec.msgpack.decode(to_msgpack(values)) == [
        to_ms(v) if isinstance(v, datetime) else v // timedelta(milliseconds=1) for v in values
    ]


@pytest.mark.parametrize("number", [10**30, -(10**30), 2**63])
def test_a_time_no_datetime_can_hold_is_bad_input_not_a_crash(number: int) -> None:
    with pytest.raises(ValidationError) as once:
        from_json(b'{"type": "once", "at": %d}' % number, Once)
    assert once.value.details == [("at", "invalid_value: out of range")]
    with pytest.raises(ValidationError) as every:
        from_builtins({"type": "interval", "every": number}, Interval)
    assert every.value.details == [("every", "invalid_value: out of range")]
