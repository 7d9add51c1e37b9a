"""Checks of a definition's own fields, collected all at once.

Schedule and timezone checks need the schedule engine and live in
`automations.schedules`, which combines both lists into one `ValidationError`.
Fields are named by their wire (camelCase) names, as the contract returns them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from ._automation import NewAutomation
from ._enums import Anchor
from ._specs import AfterCount, Interval, Once
from ._time import Instant

__all__ = [
    "MAX_PROMPT",
    "MAX_STEP_CAP",
    "MAX_TITLE",
    "Catalog",
    "Problem",
    "field_problems",
]

MAX_TITLE = 160
MAX_PROMPT = 20_000
MAX_STEP_CAP = 100_000
MAX_NAME = 200

Problem = tuple[str, str]
Catalog = Callable[[str, str, str | None], str | None]
"""Validates `(provider, model, variant)`; returns a problem code or None."""


def field_problems(new: NewAutomation, *, catalog: Catalog | None = None) -> list[Problem]:
    """Every problem with the non-schedule fields of `new`."""
    return [*_text_problems(new), *_policy_problems(new), *_model_problems(new, catalog)]


def _text_problems(new: NewAutomation) -> Iterator[Problem]:
    if not new.title.strip():
        yield ("title", "title_required")
    elif len(new.title) > MAX_TITLE:
        yield ("title", f"title_too_long_{MAX_TITLE}")
    if not new.prompt.strip():
        yield ("prompt", "prompt_required")
    elif len(new.prompt) > MAX_PROMPT:
        yield ("prompt", f"prompt_too_long_{MAX_PROMPT}")
    if not new.executor or len(new.executor) > MAX_NAME or not new.executor.isprintable():
        yield ("executor", "invalid_executor_name")
    if new.where is not None:
        if not new.where.project.strip() or len(new.where.project) > MAX_NAME * 5:
            yield ("where.project", "invalid_project")
        if new.where.worktree is not None and not new.where.worktree.strip():
            yield ("where.worktree", "invalid_worktree")


def _policy_problems(new: NewAutomation) -> Iterator[Problem]:
    if not 1 <= new.step_cap <= MAX_STEP_CAP:
        yield ("stepCap", f"step_cap_out_of_range_1_{MAX_STEP_CAP}")
    yield from _duration_problem("catchupWindow", new.catchup_window, allow_zero=True)
    yield from _duration_problem("blockerTimeout", new.blocker_timeout, allow_zero=False)
    yield from _duration_problem("maxDuration", new.max_duration, allow_zero=False)
    if isinstance(new.stop, AfterCount):
        if isinstance(new.schedule, Once):
            yield ("stop", "unsupported_stop_condition")
        elif new.stop.count < 1:
            yield ("stop.count", "unsupported_stop_condition")
    if new.anchor is Anchor.COMPLETION and not isinstance(new.schedule, Interval):
        yield ("anchor", "anchor_completion_requires_interval")
    if isinstance(new.schedule, Once):
        yield from _naive_problem("schedule.at", new.schedule.at)
    if isinstance(new.schedule, Interval) and new.schedule.start is not None:
        yield from _naive_problem("schedule.start", new.schedule.start)


def _duration_problem(
    field: str, value: timedelta | None, *, allow_zero: bool
) -> Iterator[Problem]:
    if value is None:
        return
    if value < timedelta(0) or (not allow_zero and value == timedelta(0)):
        yield (field, "duration_must_be_positive")


def _naive_problem(field: str, value: datetime) -> Iterator[Problem]:
    if type(value) is not Instant and (value.tzinfo is None or value.utcoffset() is None):
        yield (field, "datetime_needs_timezone")


def _model_problems(new: NewAutomation, catalog: Catalog | None) -> Iterator[Problem]:
    if new.model is None:
        if new.variant is not None:
            yield ("variant", "invalid_variant_for_model")
        return
    if not new.model.provider.strip() or not new.model.model.strip():
        yield ("model", "model_not_found")
        return
    if catalog is not None and (code := catalog(new.model.provider, new.model.model, new.variant)):
        yield ("variant" if code == "invalid_variant_for_model" else "model", code)
