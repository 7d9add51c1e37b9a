"""The SQLite store: one file, a group-commit writer thread, a pool of readers, and
`flock` files beside the database for leases and liveness (one host).

Everything here implements the port of `automations.persistence`; nothing outside
this package imports apsw or knows where the store's files are.
"""

from ._apply import Apply, apply, apply_in_savepoint
from ._connection import Durability, connect
from ._health import diagnose
from ._locks import FileLock, lease_lock_path, liveness_lock_path, remove_database
from ._pragma import Pragma
from ._read_only import ReadOnlyStore, open_read_only_store
from ._reader import ChangeWatch, Reader
from ._schema import APPLICATION_ID, SCHEMA_VERSION, inspect, migrate
from ._sql import SqliteSql, projection_rows
from ._store import SqliteStore, open_sqlite_store
from ._writer import GroupCommitWriter

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "Apply",
    "ChangeWatch",
    "Durability",
    "FileLock",
    "GroupCommitWriter",
    "Pragma",
    "ReadOnlyStore",
    "Reader",
    "SqliteSql",
    "SqliteStore",
    "apply",
    "apply_in_savepoint",
    "connect",
    "diagnose",
    "inspect",
    "lease_lock_path",
    "liveness_lock_path",
    "migrate",
    "open_read_only_store",
    "open_sqlite_store",
    "projection_rows",
    "remove_database",
]
