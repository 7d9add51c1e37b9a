"""How a command that failed says so: one line for people, one JSON object for scripts.

People read validation problems in words ("schedule.every: the interval must be at
least 30 seconds"); scripts (`--json`) get the wire codes: `{"error": CODE,
"message": TEXT}` on stderr, plus `"details": [{"field", "code"}]` for bad input.
Exception groups whose every leaf is an `AutomationError` are unwrapped to their
first leaf, so no traceback reaches the terminal for an error the library expects.
"""

from __future__ import annotations

import json
import re

from ..model import (
    MAX_BACKFILL_SLOTS,
    MAX_PROMPT,
    MAX_TITLE,
    AutomationError,
    ValidationError,
)
from ._text import printable

__all__ = ["error_json", "expected_error", "in_words", "one_line"]

_WORDS: dict[str, str] = {
    "title_required": "give a title",
    f"title_too_long_{MAX_TITLE}": f"must be at most {MAX_TITLE} characters",
    "prompt_required": "give a prompt",
    f"prompt_too_long_{MAX_PROMPT}": f"must be at most {MAX_PROMPT} characters",
    "invalid_executor_name": "is not a valid executor name (letters, digits, - _ . :)",
    "invalid_project": "is not a valid project name",
    "invalid_worktree": "is not a valid worktree name",
    "duration_must_be_positive": "must be a positive duration",
    "unsupported_stop_condition": "is not a stop condition this version knows",
    "anchor_completion_requires_interval": "completion anchoring needs an --every schedule",
    "datetime_needs_timezone": "needs a timezone or an offset",
    "interval_below_minimum": "the interval must be at least 30 seconds",
    "interval_above_maximum": "the interval must be at most a century",
    "duration_above_maximum": "must be at most a century",
    "time_out_of_range": "must be before the year 9000",
    "invalid_cron_expression": "is not a valid cron expression",
    "invalid_timezone": "is not an IANA timezone (e.g. Europe/Berlin or UTC)",
    "fireAt_must_be_future": "the time must be in the future",
    "reply_not_among_options": "is not one of the options",
    "permission_needs_bool": "a permission takes yes or no",
    "question_needs_str": "a question takes text",
    "model_not_found": "is not a model this runtime knows",
    "invalid_variant_for_model": "is not a variant of that model",
    "jitter_above_maximum_1h": "the jitter must be at most 1h",
    "backfill_range_in_future": "a backfill runs past slots; end the range (--to) by now",
    "backfill_end_must_follow_start": "the range must end (--to) after it starts (--from)",
    f"backfill_too_many_slots_{MAX_BACKFILL_SLOTS}": (
        f"the range holds more than {MAX_BACKFILL_SLOTS} slots; backfill it in parts"
    ),
}
_RANGE = re.compile(r"(.+)_out_of_range_(\d+)_(\d+)")


def in_words(code: str) -> str:
    """A validation code as a person reads it; an unknown code in plain words."""
    if code in _WORDS:
        return _WORDS[code]
    ranged = _RANGE.fullmatch(code)
    if ranged is not None:
        return f"must be between {ranged.group(2)} and {ranged.group(3)}"
    return code.replace("_", " ")


def one_line(error: AutomationError) -> str:
    """The error on one line, in words, with control characters made visible."""
    if isinstance(error, ValidationError):
        return "; ".join(f"{field}: {in_words(code)}" for field, code in error.details)
    return printable(str(error))


def _code(error: AutomationError) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


def error_json(error: AutomationError) -> str:
    """The error as one JSON object: its code, the line a person reads, and for bad
    input the `(field, code)` pairs of the wire."""
    value: dict[str, object] = {"error": _code(error), "message": one_line(error)}
    if isinstance(error, ValidationError):
        value["details"] = [{"field": f, "code": c} for f, c in error.details]
    return json.dumps(value)


def expected_error(error: BaseException) -> AutomationError | None:
    """The `AutomationError` to report for `error`: itself, or the first leaf of a
    group whose leaves all are one; None for anything else (a bug: let it show)."""
    if isinstance(error, AutomationError):
        return error
    if not isinstance(error, BaseExceptionGroup):
        return None
    leaves = _leaves(error)
    if leaves and all(isinstance(leaf, AutomationError) for leaf in leaves):
        first = leaves[0]
        assert isinstance(first, AutomationError)
        return first
    return None


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found.extend(_leaves(error))
        else:
            found.append(error)
    return found
