"""`--retry N --backoff FIRST..MAX` on `add` and `edit`, and how retries are shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import automations as am
from automations.cli._options import BadInput, _retry
from automations.cli._render import describe_retry, describe_trigger
from automations.cli._run_info import _fields
from automations.model import from_json, new_run

from .test_cli import cli


def test_retry_and_backoff_become_a_policy() -> None:
    policy = _retry(3, "30s..10m")["retry"]
    assert policy == am.RetryPolicy(
        max_attempts=4, backoff=timedelta(seconds=30), max_backoff=timedelta(minutes=10)
    )
    assert _retry(2, None)["retry"] == am.RetryPolicy(max_attempts=3)
    assert _retry(1, "20m")["retry"].max_backoff == timedelta(minutes=20)  # at least FIRST
    assert _retry(0, None) == {"retry": None}  # edit --retry 0 turns retries off
    assert _retry(None, None) == {}


@pytest.mark.parametrize(
    ("retries", "backoff", "message"),
    [
        (None, "30s", "--backoff needs --retry N, the number of retries it spaces out"),
        (-1, None, "--retry -1 is not a number of retries; write 0 to 99"),
        (
            3,
            "10m..30s",
            "--backoff '10m..30s' is not a backoff; write FIRST..MAX with FIRST "
            "above 0 and MAX at least FIRST, e.g. 30s..10m",
        ),
        (3, "soon", "--backoff 'soon' is not a duration; write e.g. 30s, 5m, 1h30m or 2d"),
    ],
)
def test_bad_retry_options_say_what_to_write(
    retries: int | None, backoff: str | None, message: str
) -> None:
    with pytest.raises(BadInput) as raised:
        _retry(retries, backoff)
    assert str(raised.value) == message


def test_a_policy_and_an_attempt_read_in_words() -> None:
    policy = am.RetryPolicy(max_attempts=4, backoff=timedelta(seconds=30))
    assert describe_retry(policy) == (
        "up to 3 retries, after 30s x2 up to 10m, on execution_failed, timeout"
    )
    assert describe_retry(None) == "never"
    retry = new_run(
        id="automation_run_1",
        automation_id="automation_1",
        definition_revision=1,
        trigger=am.Trigger.RETRY,
        triggered_at=datetime(2026, 6, 1, tzinfo=UTC),
        attended=False,
        attempt=2,
        retry_of="automation_run_0",
    )
    assert describe_trigger(retry) == "retry 2"
    assert ("attempt", "2, retrying run automation_run_0") in _fields(retry)


def test_add_edit_and_show_a_retry_policy(tmp_path: Path) -> None:
    db = tmp_path / "automations.db"
    added = from_json(
        cli(
            db, "add", "Brief", "--every", "1h", "--retry", "3", "--backoff", "30s..10m", "--json"
        ).stdout,
        am.Automation,
    )
    assert added.retry == am.RetryPolicy(
        max_attempts=4, backoff=timedelta(seconds=30), max_backoff=timedelta(minutes=10)
    )
    wire = json.loads(cli(db, "show", added.id, "--json").stdout)
    assert wire["retry"] == {
        "maxAttempts": 4,
        "backoff": 30_000,
        "multiplier": 2.0,
        "maxBackoff": 600_000,
        "retryOn": ["execution_failed", "timeout"],
    }
    shown = cli(db, "show", added.id).stdout
    assert "up to 3 retries, after 30s x2 up to 10m" in shown
    assert "every 1h, retry 3x" in cli(db, "ls").stdout
    cli(db, "edit", added.id, "--retry", "0")
    assert json.loads(cli(db, "show", added.id, "--json").stdout)["retry"] is None
