"""The PostgreSQL store examines its schema and its server for the doctor.

One connection in autocommit mode, reads only: whether the server answers, the
schema's version and tables, the journal's length and the tables' sizes, sessions
that sit in an open transaction, whether the server may lose acknowledged commits,
and the facts every store reports (leases probed through `pg_locks`).
"""

from __future__ import annotations

import time

import psycopg

from ...model import DatabaseRefused, StorageError
from .._health import Check, StoreHealth
from .._sql import Facts, health, read_facts
from ._connection import Connection, connect, redacted
from ._locks import held_by_anyone
from ._schema import SCHEMA_VERSION, current_schema, lock_key, version_of
from ._sql import PostgresSql

__all__ = ["TABLES", "diagnose"]

TABLES = frozenset(
    {"meta", "journal", "automations", "runs", "answers", "checkpoints", "leases", "commands"}
    | {"progress", "workers"}
)
IDLE_IN_TRANSACTION_SECONDS = 5
JOURNAL_WARNING_ENTRIES = 50_000_000


def diagnose(location: str, *, overdue_before_ms: int, limit: int) -> StoreHealth:
    """See `persistence.Diagnose`."""
    checks: list[Check] = []

    def report(facts: Facts | None = None) -> StoreHealth:
        return health("postgresql", redacted(location), checks, facts)

    started = time.monotonic()
    try:
        connection = connect(location, autocommit=True, role="doctor")
    except StorageError as exc:
        checks.append(
            Check(
                name="reachable",
                severity="error",
                detail=str(exc),
                advice="check the URL, that the server runs, and that it lets this host in "
                "(pg_hba.conf)",
            )
        )
        return report()
    try:
        with connection:
            elapsed = (time.monotonic() - started) * 1000
            row = connection.execute("SHOW server_version").fetchone()
            server = row[0] if row else "?"
            checks.append(
                Check(
                    name="reachable",
                    severity="ok",
                    detail=f"PostgreSQL {server} answered in {elapsed:.0f} ms",
                )
            )
            checks.extend(_server_settings(connection))
            checks.extend(_idle_in_transaction(connection))
            schema = current_schema(connection, location)
            version = version_of(connection, location)
            checks.append(_schema_check(schema, version))
            if version != SCHEMA_VERSION:
                return report()
            checks.append(_tables(connection, schema))
            if checks[-1].severity == "error":
                return report()
            checks.append(_journal(connection))
            checks.append(_sizes(connection, schema))

            facts = read_facts(
                PostgresSql(connection),
                lease_alive=lambda name: held_by_anyone(connection, lock_key(schema, name)),
                owner_alive=lambda owner: held_by_anyone(
                    connection, lock_key(schema, f"owner:{owner}")
                ),
                overdue_before_ms=overdue_before_ms,
                limit=limit,
            )
    except DatabaseRefused as exc:
        checks.append(Check(name="schema", severity="error", detail=str(exc)))
        return report()
    except psycopg.Error as exc:
        checks.append(
            Check(
                name="read",
                severity="error",
                detail=f"reading {redacted(location)} failed: {exc}",
                advice="see the server's log; the schema may have been altered by hand",
            )
        )
        return report()
    return report(facts)


def _server_settings(connection: Connection) -> list[Check]:
    found: list[Check] = []
    for name in ("fsync", "synchronous_commit"):
        row = connection.execute(f"SHOW {name}").fetchone()
        value = str(row[0]) if row else "?"
        if value == "off":
            found.append(
                Check(
                    name="durability",
                    severity="warning",
                    detail=f"the server runs with {name}=off: a crash may lose transitions "
                    "the runtime acknowledged",
                    advice=f"set {name} = on in postgresql.conf unless losing them is fine",
                )
            )
    if not found:
        found.append(
            Check(name="durability", severity="ok", detail="fsync and synchronous_commit are on")
        )
    return found


def _idle_in_transaction(connection: Connection) -> list[Check]:
    rows = connection.execute(
        "SELECT pid, application_name, extract(epoch FROM now() - state_change)::bigint"
        " FROM pg_stat_activity WHERE datname = current_database()"
        " AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        " AND state_change < now() - make_interval(secs => %s) ORDER BY state_change",
        (IDLE_IN_TRANSACTION_SECONDS,),
    ).fetchall()
    if not rows:
        return [
            Check(name="sessions", severity="ok", detail="no session sits in an open transaction")
        ]
    return [
        Check(
            name="sessions",
            severity="warning",
            detail=f"session {pid} ({name or 'unnamed'}) has sat in an open transaction "
            f"for {seconds} s: it holds its locks and keeps VACUUM from cleaning up",
            advice=f"end it: SELECT pg_terminate_backend({pid})",
        )
        for pid, name, seconds in rows
    ]


def _schema_check(schema: str, version: int) -> Check:
    if version == 0:
        return Check(
            name="schema",
            severity="warning",
            detail=f"schema {schema!r} holds no automations store yet",
            advice="check the URL's search_path; `automations serve` or `add` creates the store",
        )
    if version < SCHEMA_VERSION:
        return Check(
            name="schema",
            severity="warning",
            detail=f"schema version {version}; this code migrates it to {SCHEMA_VERSION}",
            advice="the next command that writes (serve, add) migrates it; back it up first",
        )
    return Check(
        name="schema", severity="ok", detail=f"schema {schema!r} at version {version} (current)"
    )


def _tables(connection: Connection, schema: str) -> Check:
    rows = connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
    ).fetchall()
    missing = sorted(TABLES - {str(row[0]) for row in rows})
    if missing:
        return Check(
            name="tables",
            severity="error",
            detail=f"tables missing from schema {schema!r}: {', '.join(missing)}",
            advice="the schema was altered by hand or partly dropped; restore it from a backup",
        )
    return Check(name="tables", severity="ok", detail="every table is there")


def _journal(connection: Connection) -> Check:
    row = connection.execute("SELECT count(*) FROM journal").fetchone()
    entries = int(row[0]) if row else 0
    if entries > JOURNAL_WARNING_ENTRIES:
        return Check(
            name="journal",
            severity="warning",
            detail=f"{entries} journal entries",
            advice="forget old runs: `automations prune --older-than 30d`, "
            "or `automations serve --retention 30d`",
        )
    return Check(name="journal", severity="ok", detail=f"{entries} journal entries")


def _sizes(connection: Connection, schema: str) -> Check:
    rows = connection.execute(
        "SELECT tablename, pg_total_relation_size(format('%%I.%%I', schemaname, tablename))"
        " FROM pg_tables WHERE schemaname = %s ORDER BY 2 DESC",
        (schema,),
    ).fetchall()
    sizes = ", ".join(f"{name} {int(size) / (1024 * 1024):.1f} MiB" for name, size in rows)
    return Check(name="sizes", severity="ok", detail=sizes)
