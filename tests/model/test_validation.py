from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

import automations as am
from automations.model import (
    AfterCount,
    Anchor,
    Cron,
    Interval,
    ModelRef,
    NewAutomation,
    Once,
    ValidationError,
    field_problems,
)
from automations.schedules import build_automation

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _new(**changes: object) -> NewAutomation:
    fields: dict[str, object] = {
        "title": "Brief",
        "prompt": "Summarise the news",
        "timezone": "Europe/Berlin",
        "schedule": Cron("0 9 * * *"),
    }
    fields.update(changes)
    return NewAutomation(**fields)  # type: ignore[arg-type]


def _problems(new: NewAutomation) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        build_automation(new, id="automation_1", project="p", now=NOW)
    return caught.value.details


def test_a_valid_definition_has_no_problems() -> None:
    assert field_problems(_new()) == []
    automation = build_automation(_new(), id="automation_1", project="p", now=NOW)
    assert automation.revision == 1 and automation.where.project == "p"


def test_every_problem_is_reported_at_once() -> None:
    new = _new(
        title="x" * 161,
        prompt="y" * 20_001,
        timezone="Mars/Olympus",
        schedule=Cron("61 * * * *"),
        step_cap=0,
    )
    assert sorted(_problems(new)) == sorted(
        [
            ("title", "title_too_long_160"),
            ("prompt", "prompt_too_long_20000"),
            ("timezone", "invalid_timezone"),
            ("schedule.expression", "invalid_cron_expression"),
            ("stepCap", "step_cap_out_of_range_1_100000"),
        ]
    )


def test_limits_are_inclusive() -> None:
    build_automation(_new(title="x" * 160, prompt="y" * 20_000), id="a", project="p", now=NOW)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": "   "}, ("title", "title_required")),
        ({"prompt": ""}, ("prompt", "prompt_required")),
        (
            {"schedule": Interval(every=timedelta(seconds=29))},
            ("schedule.every", "interval_below_minimum"),
        ),
        ({"schedule": Once(at=NOW)}, ("schedule.at", "fireAt_must_be_future")),
        ({"schedule": Once(at=datetime(2030, 1, 1))}, ("schedule.at", "datetime_needs_timezone")),
        (
            {"schedule": Once(at=NOW + timedelta(1)), "stop": AfterCount(2)},
            ("stop", "unsupported_stop_condition"),
        ),
        ({"stop": AfterCount(0)}, ("stop.count", "unsupported_stop_condition")),
        ({"variant": "high"}, ("variant", "invalid_variant_for_model")),
        ({"model": ModelRef("", "gpt")}, ("model", "model_not_found")),
        ({"anchor": Anchor.COMPLETION}, ("anchor", "anchor_completion_requires_interval")),
        ({"catchup_window": timedelta(seconds=-1)}, ("catchupWindow", "duration_must_be_positive")),
        ({"max_duration": timedelta(0)}, ("maxDuration", "duration_must_be_positive")),
        ({"executor": ""}, ("executor", "invalid_executor_name")),
    ],
)
def test_each_code(changes: dict[str, object], expected: tuple[str, str]) -> None:
    assert _problems(_new(**changes)) == [expected]


def test_the_catalog_decides_models_and_variants() -> None:
    def catalog(provider: str, model: str, variant: str | None) -> str | None:
        if (provider, model) != ("openai", "gpt-5"):
            return "model_not_found"
        return None if variant in (None, "high") else "invalid_variant_for_model"

    good = _new(model=ModelRef("openai", "gpt-5"), variant="high")
    build_automation(good, id="a", project="p", now=NOW, catalog=catalog)
    with pytest.raises(ValidationError) as caught:
        build_automation(
            _new(model=ModelRef("x", "y")), id="a", project="p", now=NOW, catalog=catalog
        )
    assert caught.value.details == [("model", "model_not_found")]
    bad_variant = _new(model=ModelRef("openai", "gpt-5"), variant="low")
    with pytest.raises(ValidationError) as caught:
        build_automation(bad_variant, id="a", project="p", now=NOW, catalog=catalog)
    assert caught.value.details == [("variant", "invalid_variant_for_model")]


def test_min_interval_can_be_lowered() -> None:
    new = _new(schedule=Interval(every=timedelta(seconds=1)))
    build_automation(new, id="a", project="p", now=NOW, min_interval=timedelta(seconds=1))


def test_validation_error_needs_details_and_says_them() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ValidationError([])
    error = ValidationError([("title", "title_required")])
    assert "title: title_required" in str(error)


def test_numbers_beyond_what_a_datetime_or_a_client_holds_are_refused() -> None:
    base = am.NewAutomation(title="t", prompt="p", timezone="UTC", schedule=am.Cron("0 9 * * *"))
    now = datetime(2026, 6, 1, tzinfo=UTC)
    century = timedelta(days=36_526)
    far = datetime(9001, 1, 1, tzinfo=UTC)
    cases = [
        (msgspec.structs.replace(base, stop=am.AfterCount(2**53)), "stop.count"),
        (msgspec.structs.replace(base, max_duration=century), "maxDuration"),
        (msgspec.structs.replace(base, catchup_window=century), "catchupWindow"),
        (msgspec.structs.replace(base, schedule=am.Interval(every=century)), "schedule.every"),
        (
            msgspec.structs.replace(base, schedule=am.Interval(timedelta(hours=1), start=far)),
            "schedule.start",
        ),
        (msgspec.structs.replace(base, schedule=am.Once(at=far)), "schedule.at"),
    ]
    for new, field in cases:
        with pytest.raises(am.ValidationError) as refused:
            build_automation(new, id="a", project="p", now=now)
        assert [f for f, _ in refused.value.details] == [field], new
