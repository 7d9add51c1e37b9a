"""The database schema, how a file is recognised as ours, and migrations.

A file is ours when its `application_id` is `APPLICATION_ID`; its schema version is
`user_version`. Migrations are SQL scripts, or a function for a change of data,
applied in one transaction each; `MIGRATIONS[n]` takes a database from version n to
n + 1. A file that belongs to another application, or that newer code has migrated
past what this code knows, is refused before anything is written to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import apsw

from ...model import DatabaseRefused, Run, Scope, from_msgpack, to_ms
from .._shards import shard_of

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "FileState", "inspect", "migrate"]

APPLICATION_ID = 0x41_75_74_6F  # "Auto"

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Append-only: every transition of every automation and run, in commit order.
CREATE TABLE journal (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,              -- epoch ms of the transition
    kind       TEXT    NOT NULL,              -- the event type
    entity_id  TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    project    TEXT    NOT NULL,
    directory  TEXT    NOT NULL,
    writer_key TEXT,                          -- held by an active run at this revision
    owner      TEXT,                          -- process executing an active run
    body       BLOB    NOT NULL               -- msgpack of the whole object
);
CREATE INDEX journal_scope ON journal (project, directory, seq);

-- Projections: the current state, rebuilt exactly by replaying the journal.
CREATE TABLE automations (
    id           TEXT PRIMARY KEY,
    project      TEXT    NOT NULL,
    directory    TEXT    NOT NULL,
    revision     INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    next_fire_at INTEGER,
    body         BLOB    NOT NULL
);
CREATE INDEX automations_list ON automations (project, directory, updated_at DESC, id DESC);
CREATE INDEX automations_due ON automations (next_fire_at) WHERE next_fire_at IS NOT NULL;

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    automation_id TEXT    NOT NULL,
    project       TEXT    NOT NULL,
    directory     TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    triggered_at  INTEGER NOT NULL,
    slot          INTEGER,                    -- the slot a scheduled run executes
    missed_first  INTEGER,                    -- the first slot a missed record names
    writer_key    TEXT,                       -- set while the run is active and guarded
    owner         TEXT,                       -- set while the run is active
    body          BLOB    NOT NULL
);
-- A slot fires at most once, and one missed episode is recorded once, whatever the
-- processes do; one active run per writer key.
CREATE UNIQUE INDEX runs_slot ON runs (automation_id, slot) WHERE slot IS NOT NULL;
CREATE UNIQUE INDEX runs_missed ON runs (automation_id, missed_first)
    WHERE missed_first IS NOT NULL;
CREATE UNIQUE INDEX runs_writer_key ON runs (writer_key) WHERE writer_key IS NOT NULL;
CREATE INDEX runs_page ON runs (automation_id, triggered_at DESC, id DESC);
CREATE INDEX runs_owner ON runs (owner) WHERE owner IS NOT NULL;
"""

_V2 = """
-- Answers to blockers, stored before they are delivered: an answer survives a crash,
-- and a second answer to the same blocker is recognised.
CREATE TABLE answers (
    run_id     TEXT    NOT NULL,
    blocker_id TEXT    NOT NULL,
    project    TEXT    NOT NULL,
    directory  TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    reply      BLOB    NOT NULL,             -- JSON: a string or a boolean
    PRIMARY KEY (run_id, blocker_id)
);

-- The last checkpoint an executor saved for its run (JSON, never pickle).
CREATE TABLE checkpoints (
    run_id TEXT PRIMARY KEY,
    at     INTEGER NOT NULL,
    data   BLOB    NOT NULL
);
"""

_V3 = """
-- The scheduler lease: its epoch grows on every acquisition and fences the writes
-- made under it, so a holder that was frozen and lost the lease cannot write.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    epoch       INTEGER NOT NULL,
    holder      TEXT    NOT NULL,
    acquired_at INTEGER NOT NULL
);
"""

_V4 = """
-- The cross-process command inbox: what a client or another worker asks of the
-- process that must act. `target` is that process (a run's owner), or NULL for the
-- lease holder of the scope. Done commands are deleted, except run-now ones, whose
-- outcome waits for their sender.
CREATE TABLE commands (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: workers follow ids
    kind       TEXT    NOT NULL,
    project    TEXT    NOT NULL,
    directory  TEXT    NOT NULL,
    target     TEXT,
    subject    TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    done_at    INTEGER,
    outcome    BLOB
);
CREATE INDEX commands_pending ON commands (project, directory, id) WHERE done_at IS NULL;

-- Each scope has its own lease now (persistence/_leases.py names them).
DELETE FROM leases WHERE name = 'scheduler';
"""

_V5 = """
-- A lease holder renews its lease twice a second (wall-clock ms). A standby may take
-- a lease whose holder stopped renewing: frozen, not dead (a dead holder's file lock
-- is free at once); the epoch then fences the frozen holder's writes.
ALTER TABLE leases ADD COLUMN renewed_at INTEGER NOT NULL DEFAULT 0;
"""


def _v6(connection: apsw.Connection) -> None:
    """Missed records were stored with the columns of their first revision, which
    took their first slot's place in the once-per-slot index (a catch-up run of that
    very slot could not be recorded) and left `missed_first` empty. Give them the
    columns of their last revision, as a new record now has, and as replay builds."""
    rows = connection.execute(
        "SELECT id, body FROM runs WHERE state = 'stopped' AND slot IS NOT NULL"
    ).fetchall()
    for run_id, body in rows:
        run = from_msgpack(body, Run) if isinstance(body, bytes) else None
        missed = None if run is None else run.missed
        if missed is not None:
            connection.execute(
                "UPDATE runs SET slot = NULL, missed_first = ? WHERE id = ?",
                (to_ms(missed.first), run_id),
            )


_V7 = """
-- A run's timeline (`Runtime.run_history`) reads its own journal entries.
CREATE INDEX journal_entity ON journal (entity_id, seq);

-- An automation's idempotency key (`NewAutomation.key`): one per scope. Rows written
-- before it have none.
ALTER TABLE automations ADD COLUMN key TEXT;
CREATE UNIQUE INDEX automations_key ON automations (project, directory, key)
    WHERE key IS NOT NULL;

-- The executors the lease holder registered (a JSON list): a client can tell that
-- no worker runs the executor an automation names.
ALTER TABLE leases ADD COLUMN executors TEXT NOT NULL DEFAULT '';

-- The steps a running run took since its last transition (not a projection, as
-- checkpoints): reconciliation ends or resumes a dead process's run with them.
CREATE TABLE progress (
    run_id TEXT PRIMARY KEY,
    at     INTEGER NOT NULL,
    steps  INTEGER NOT NULL
);
"""

_V8 = """
-- One row per worker process, refreshed by its heartbeat (persistence/_workers.py):
-- who it is, its capacity and load, the scopes it leads (msgpack). A row whose expiry
-- passed is of a worker that is gone.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    body         BLOB    NOT NULL
);
CREATE INDEX workers_expiry ON workers (expires_at);
"""


def _v9(connection: apsw.Connection) -> None:
    """Each automation's shard (persistence/_shards.py), indexed with its next fire: a
    fleet worker finds what is due in the shards it holds with one query. Lease epochs
    are given once in the file (the largest plus one, `leases_epoch`): an epoch names
    one term of one lease (`check_epoch`)."""
    connection.execute(
        """
        ALTER TABLE automations ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX automations_shard_due ON automations (shard, next_fire_at)
            WHERE next_fire_at IS NOT NULL;
        CREATE INDEX leases_epoch ON leases (epoch);
        """
    )
    for scope in _scopes(connection):
        connection.execute(
            "UPDATE automations SET shard = ? WHERE project = ? AND directory = ?",
            (shard_of(scope), scope.project, scope.directory),
        )


def _scopes(connection: apsw.Connection) -> list[Scope]:
    rows = connection.execute("SELECT DISTINCT project, directory FROM automations")
    return [Scope(str(project), str(directory)) for project, directory in rows]


Migration = str | Callable[[apsw.Connection], None]
MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4, _V5, _v6, _V7, _V8, _v9)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class FileState:
    application_id: int
    version: int
    objects: int

    @property
    def is_empty(self) -> bool:
        return self.application_id == 0 and self.version == 0 and self.objects == 0


def inspect(connection: apsw.Connection, path: str) -> FileState:
    """Read what the file is, writing nothing; refuse files that are not ours."""
    try:
        application_id = _pragma(connection, "application_id")
        version = _pragma(connection, "user_version")
        row = connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except (apsw.NotADBError, apsw.CorruptError) as exc:
        raise DatabaseRefused(
            f"{path} is not a readable SQLite database ({exc}); it was left untouched. "
            "Point the runtime at another file, or restore this one from a backup."
        ) from None
    state = FileState(application_id, version, int(row[0]) if row else 0)
    if state.is_empty:
        return state
    if application_id != APPLICATION_ID:
        raise DatabaseRefused(
            f"{path} is an SQLite database of another application "
            f"(application_id {application_id:#x}, expected {APPLICATION_ID:#x}); "
            "it was left untouched. Use a new file for automations."
        )
    if version > SCHEMA_VERSION:
        raise DatabaseRefused(
            f"{path} has schema version {version}, but this code knows versions up to "
            f"{SCHEMA_VERSION}; it was left untouched. Upgrade automations to open it."
        )
    return state


def migrate(connection: apsw.Connection, state: FileState) -> int:
    """Bring the file to `SCHEMA_VERSION`, one transaction per step; the new version."""
    version = state.version
    while version < SCHEMA_VERSION:
        with connection:  # one transaction: a step applies whole or not at all
            step = MIGRATIONS[version]
            if isinstance(step, str):
                connection.execute(step)
            else:
                step(connection)
            version += 1
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {version}")
            connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(version),),
            )
    return version


def _pragma(connection: apsw.Connection, name: str) -> int:
    row = connection.execute(f"PRAGMA {name}").fetchone()
    return int(row[0]) if row else 0
