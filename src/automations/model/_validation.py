"""Checks of a definition's own fields, collected all at once.

Schedule and timezone checks need the schedule engine and live in
`automations.schedules`, which combines both lists into one `ValidationError`.
Fields are named by their wire (camelCase) names, as the contract returns them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from ._automation import MAX_JITTER, NewAutomation
from ._enums import Anchor
from ._errors import ValidationError
from ._retry import retry_problems
from ._run import Permission, Question
from ._specs import AfterCount, Interval, Once
from ._time import Instant

__all__ = [
    "MAX_PROMPT",
    "MAX_STEP_CAP",
    "MAX_TITLE",
    "Catalog",
    "Problem",
    "check_reply",
    "field_problems",
    "naive_time_problems",
]

MAX_TITLE = 160
MAX_PROMPT = 20_000
MAX_STEP_CAP = 100_000
MAX_NAME = 200
MAX_STOP_COUNT = 2**53 - 1
"""The largest integer a JavaScript client reads exactly (and well inside msgpack's)."""

Problem = tuple[str, str]
Catalog = Callable[[str, str, str | None], str | None]
"""Validates `(provider, model, variant)`; returns a problem code or None."""


def field_problems(new: NewAutomation, *, catalog: Catalog | None = None) -> list[Problem]:
    """Every problem with the non-schedule fields of `new`."""
    # Checked for every automation `create_many` builds: appends to one list, no
    # generators, so a valid definition costs a few comparisons.
    problems: list[Problem] = []
    _text_problems(new, problems)
    _policy_problems(new, problems)
    _model_problems(new, catalog, problems)
    if new.retry is not None:
        problems += retry_problems(new.retry)
    return problems


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters (C0, DEL, C1) and line separators: a title is one line of text,
printed to terminals, where an escape sequence could rename or clear the screen."""


def _text_problems(new: NewAutomation, problems: list[Problem]) -> None:
    if not new.title.strip():
        problems.append(("title", "title_required"))
    elif len(new.title) > MAX_TITLE:
        problems.append(("title", f"title_too_long_{MAX_TITLE}"))
    elif _CONTROL.search(new.title):
        problems.append(("title", "title_has_control_characters"))
    if not new.prompt.strip():
        problems.append(("prompt", "prompt_required"))
    elif len(new.prompt) > MAX_PROMPT:
        problems.append(("prompt", f"prompt_too_long_{MAX_PROMPT}"))
    if not new.executor or len(new.executor) > MAX_NAME or not new.executor.isprintable():
        problems.append(("executor", "invalid_executor_name"))
    key = new.key
    if key is not None and (not key.strip() or len(key) > MAX_NAME or not key.isprintable()):
        problems.append(("key", "invalid_key"))
    if new.where is not None:
        if not new.where.project.strip() or len(new.where.project) > MAX_NAME * 5:
            problems.append(("where.project", "invalid_project"))
        if new.where.worktree is not None and not new.where.worktree.strip():
            problems.append(("where.worktree", "invalid_worktree"))


def _policy_problems(new: NewAutomation, problems: list[Problem]) -> None:
    if not 1 <= new.step_cap <= MAX_STEP_CAP:
        problems.append(("stepCap", f"step_cap_out_of_range_1_{MAX_STEP_CAP}"))
    _duration_problem(problems, "catchupWindow", new.catchup_window, allow_zero=True)
    _duration_problem(problems, "blockerTimeout", new.blocker_timeout, allow_zero=False)
    _duration_problem(problems, "maxDuration", new.max_duration, allow_zero=False)
    if new.jitter < _ZERO:
        problems.append(("jitter", "duration_must_be_positive"))
    elif new.jitter > MAX_JITTER:
        problems.append(("jitter", "jitter_above_maximum_1h"))
    schedule = new.schedule
    if isinstance(new.stop, AfterCount):
        if isinstance(schedule, Once):
            problems.append(("stop", "unsupported_stop_condition"))
        elif not 1 <= new.stop.count <= MAX_STOP_COUNT:
            problems.append(("stop.count", "unsupported_stop_condition"))
    if new.anchor is Anchor.COMPLETION and not isinstance(schedule, Interval):
        problems.append(("anchor", "anchor_completion_requires_interval"))
    problems.extend(naive_time_problems(new))


def naive_time_problems(new: NewAutomation) -> list[Problem]:
    """The times of `new` that have no timezone (they cannot become epoch milliseconds)."""
    problems: list[Problem] = []
    schedule = new.schedule
    if isinstance(schedule, Once):
        _naive_problem(problems, "schedule.at", schedule.at)
    elif isinstance(schedule, Interval) and schedule.start is not None:
        _naive_problem(problems, "schedule.start", schedule.start)
    return problems


_ZERO = timedelta(0)
MAX_DURATION = timedelta(days=36_525)
"""A century: a deadline this far ahead still fits in a `datetime`."""


def _duration_problem(
    problems: list[Problem], field: str, value: timedelta | None, *, allow_zero: bool
) -> None:
    if value is not None and (value < _ZERO or (not allow_zero and value == _ZERO)):
        problems.append((field, "duration_must_be_positive"))
    elif value is not None and value > MAX_DURATION:
        problems.append((field, "duration_above_maximum"))


def _naive_problem(problems: list[Problem], field: str, value: datetime) -> None:
    if type(value) is not Instant and (value.tzinfo is None or value.utcoffset() is None):
        problems.append((field, "datetime_needs_timezone"))


def _model_problems(new: NewAutomation, catalog: Catalog | None, problems: list[Problem]) -> None:
    if new.model is None:
        if new.variant is not None:
            problems.append(("variant", "invalid_variant_for_model"))
        return
    if not new.model.provider.strip() or not new.model.model.strip():
        problems.append(("model", "model_not_found"))
        return
    if catalog is not None and (code := catalog(new.model.provider, new.model.model, new.variant)):
        problems.append(("variant" if code == "invalid_variant_for_model" else "model", code))


def check_reply(request: Question | Permission, reply: object) -> None:
    """`ValidationError` unless `reply` answers `request`: a `bool` for a permission, a
    `str` (one of its options, if it has any) for a question."""
    if isinstance(request, Permission):
        if not isinstance(reply, bool):
            raise ValidationError([("reply", "permission_needs_bool")])
    elif not isinstance(reply, str):
        raise ValidationError([("reply", "question_needs_str")])
    elif request.options is not None and reply not in request.options:
        raise ValidationError([("reply", "reply_not_among_options")])
