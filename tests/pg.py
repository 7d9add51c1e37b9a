"""A throwaway PostgreSQL server for the tests, and a fresh schema for each test.

The session starts one cluster from the binaries on the machine (Debian's `postgresql`
package: `/usr/lib/postgresql/<version>/bin`) on a free port of 127.0.0.1, in a
temporary directory that is removed at the end; or it uses `$AUTOMATIONS_PG_DSN`
when set. PostgreSQL refuses to run as root, so as root the cluster belongs to the
`postgres` user. Each test gets a schema of its own (the DSN names it in
`search_path`), dropped afterwards, so tests are independent. Where there is no
PostgreSQL (no binaries, no driver), the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PgCluster", "binaries", "pg_cluster", "pg_dsn", "started_cluster", "with_schema"]

DSN_VARIABLE = "AUTOMATIONS_PG_DSN"
START_SECONDS = 60.0


class PgCluster:
    """A running server: the DSN of its `postgres` database; `restart` stops it (every
    session ends, as in a server restart) and starts it again, for a server the tests
    started themselves."""

    def __init__(self, dsn: str, restart: Callable[[], None] | None = None) -> None:
        self.dsn = dsn
        self._restart = restart

    def restart(self) -> None:
        assert self._restart is not None, "only a server the tests started is restarted"
        self._restart()

    def new_schema(self) -> str:
        """A new empty schema; its name."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{name}"')
        return name

    def drop_schema(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def with_schema(dsn: str, schema: str) -> str:
    """`dsn` (a URL) whose connections work in `schema`."""
    parts = urllib.parse.urlsplit(dsn)
    query = urllib.parse.parse_qsl(parts.query)
    query = [(k, v) for k, v in query if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def binaries() -> Path | None:
    """The newest PostgreSQL server binaries on the machine, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_postgres() -> dict[str, Any]:
    """Run a server command as `postgres` when we are root (it refuses root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def _run(command: list[str], **options: Any) -> None:
    done = subprocess.run(command, capture_output=True, text=True, **_as_postgres(), **options)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr or done.stdout}")


def _wait_ready(dsn: str, log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            psycopg.connect(dsn, connect_timeout=2).close()
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                text = log.read_text() if log.exists() else ""
                raise RuntimeError(f"PostgreSQL did not start: {exc}\n{text}") from None
        time.sleep(0.05)  # a poll with a deadline, not a wait for luck


@contextlib.contextmanager
def started_cluster(
    bin_dir: Path, *, listen: tuple[str, ...] = (), trusted: tuple[str, ...] = ()
) -> Iterator[PgCluster]:
    """A new server on a free port of 127.0.0.1 and of the `listen` addresses, trusting
    clients from the `trusted` networks too (CIDR); stopped and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="automations-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (root, sockets):
            shutil.chown(path, "postgres", "postgres")
    port = _free_port()
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        _run([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"])
        if trusted:
            lines = "".join(f"host all all {network} trust\n" for network in trusted)
            _run(["sh", "-c", f"printf '{lines}' >> {data / 'pg_hba.conf'}"])
        addresses = ",".join(("127.0.0.1", *listen))
        settings = (
            f"-p {port} -k {sockets} -c listen_addresses={addresses}"
            " -c fsync=on -c synchronous_commit=on -c max_connections=300"
        )
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
        start = [*pg_ctl, "-l", str(log), "-o", settings, "-W", "start"]
        _run(start)
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"

        def restart() -> None:
            _run([*pg_ctl, "-m", "fast", "-w", "stop"])
            _run(start)
            _wait_ready(dsn, log)

        try:
            _wait_ready(dsn, log)
            yield PgCluster(dsn, restart)
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The session's PostgreSQL server (skips the test when there is none)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests need psycopg: pip install 'automations[postgresql]'")
    given = os.environ.get(DSN_VARIABLE)
    if given:
        yield PgCluster(given)
        return
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install "
            f"postgresql) and no ${DSN_VARIABLE}: the PostgreSQL tests are skipped"
        )
    with started_cluster(bin_dir) as cluster:
        yield cluster


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster) -> Iterator[str]:
    """The DSN of a fresh, empty schema of the session's server, dropped afterwards."""
    schema = pg_cluster.new_schema()
    try:
        yield with_schema(pg_cluster.dsn, schema)
    finally:
        pg_cluster.drop_schema(schema)
