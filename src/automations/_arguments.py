"""The facade's checks of its arguments: names and values as a caller writes them."""

from __future__ import annotations

from datetime import timedelta

from .model import Overlap, ValidationError

__all__ = ["camel", "check_retention", "overlap_of"]


def camel(name: str) -> str:
    """The wire name of a Python name (`step_cap` is `stepCap`)."""
    return name.split("_")[0] + "".join(part.capitalize() for part in name.split("_")[1:])


def overlap_of(value: Overlap | str) -> Overlap:
    try:
        return Overlap(value)
    except ValueError:
        choices = ", ".join(member.value for member in Overlap)
        raise ValidationError([("overlap", f"invalid_value: one of {choices}")]) from None


def check_retention(field: str, age: timedelta) -> None:
    if not isinstance(age, timedelta) or age <= timedelta(0):
        raise ValidationError([(field, "duration_must_be_positive")])
