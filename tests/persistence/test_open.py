"""`open_store` tells a database URL from a file path, and names it without a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from automations.model import StorageError
from automations.persistence import display_location, is_url, remove_store


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("postgresql://app@db.internal/automations", True),
        ("postgres://app@db.internal/automations", True),
        ("automations.db", False),
        ("/var/lib/automations/postgresql.db", False),
        (Path("postgresql://not-a-url"), False),  # a path, whatever its spelling
    ],
)
def test_a_url_is_told_from_a_path(location: str | Path, url: bool) -> None:
    assert is_url(location) is url


def test_a_url_is_shown_without_its_password() -> None:
    shown = display_location("postgresql://app:s3cret@db.internal:5432/automations?x=1")
    assert shown == "postgresql://app:***@db.internal:5432/automations?x=1"
    assert display_location("postgresql://app@db/automations") == "postgresql://app@db/automations"
    assert display_location("automations.db") == "automations.db"


def test_a_password_given_as_a_parameter_is_not_shown_either() -> None:
    shown = display_location("postgresql://db/automations?sslmode=require&password=s3cret")
    assert "s3cret" not in shown
    assert shown == "postgresql://db/automations?sslmode=require&password=***"


def test_a_postgresql_store_is_not_removed_by_remove_store() -> None:
    with pytest.raises(StorageError, match="DROP SCHEMA"):
        remove_store("postgresql://app@db.internal/automations")
