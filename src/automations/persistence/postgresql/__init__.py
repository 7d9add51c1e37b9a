"""The PostgreSQL store: one database for workers on several hosts.

A group-commit writer thread (one transaction per batch, each operation failing
alone), a `psycopg_pool` pool of readers, versioned migrations, and session-level
advisory locks for leases and liveness. psycopg 3's synchronous API in threads, so
the runtime runs on asyncio and on trio alike. Nothing outside this package imports
psycopg; only `persistence/_open.py` imports this package.
"""

from ._connection import is_postgresql, redacted
from ._health import diagnose
from ._locks import AdvisoryLock
from ._notify import PgChangeWatch
from ._read_only import PostgresReadOnlyStore, open_read_only_postgresql_store
from ._reader import Reader
from ._schema import SCHEMA_VERSION, lock_key
from ._store import PostgresStore, open_postgresql_store
from ._writer import GroupCommitWriter

__all__ = [
    "SCHEMA_VERSION",
    "AdvisoryLock",
    "GroupCommitWriter",
    "PgChangeWatch",
    "PostgresReadOnlyStore",
    "PostgresStore",
    "Reader",
    "diagnose",
    "is_postgresql",
    "lock_key",
    "open_postgresql_store",
    "open_read_only_postgresql_store",
    "redacted",
]
