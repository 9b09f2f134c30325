"""A real PostgreSQL + PostGIS server on loopback for the store's tests and benchmarks.

Debian's server binaries (``/usr/lib/postgresql/N/bin``, the newest N; ``LUCHTWACHT_PG_BINDIR``
overrides) make a throwaway cluster in a temporary folder (``initdb``), listening on 127.0.0.1 on
a free port and on a Unix socket in that folder only. PostgreSQL refuses to run as root: as root,
the cluster belongs to the ``postgres`` system user (Debian's package makes it) and the commands
run through ``runuser``. No mock: if the server cannot be made or started, :class:`LocalPostgres`
raises and the tests that need it fail (``make test`` installs the packages, ``.ci/run`` too).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

__all__ = ["LocalPostgres", "PostgresUnavailableError", "find_bindir"]


class PostgresUnavailableError(RuntimeError):
    """The server could not be found, made or started (the message says which and why)."""


def find_bindir() -> Path:
    """The folder of ``initdb``/``pg_ctl``: ``LUCHTWACHT_PG_BINDIR``, else Debian's newest."""
    env = os.environ.get("LUCHTWACHT_PG_BINDIR")
    if env:
        return Path(env)
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailableError(
        "no PostgreSQL server binaries (initdb): apt-get install postgresql postgresql-N-postgis-3"
        " (make test and .ci/run do)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# For a throwaway cluster of tests: no flushing to disk (the data dies with the folder). The
# benchmarks pass ``durable=True`` to measure what a real server does.
FAST = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


class LocalPostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1; :meth:`start`, then :meth:`stop` (always).

    ``durable`` keeps PostgreSQL's default flushing (fsync, synchronous commit); without it the
    cluster skips them (:data:`FAST`), which only matters if the machine itself crashes.
    """

    def __init__(self, settings: dict[str, str] | None = None, durable: bool = False) -> None:
        self.bindir = find_bindir()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="luchtwacht-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self.user = "luchtwacht"  # the cluster's superuser role, trusted on loopback only
        self._run_as: list[str] = []
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailableError(
                    "running as root and there is no 'postgres' user to run the server as"
                ) from None
            self._run_as = ["runuser", "-u", "postgres", "--"]
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "max_connections": "50",
            "log_min_messages": "warning",
            **({} if durable else FAST),
            **(settings or {}),
        }
        self._started = False

    def _pg(self, tool: str, *args: str, timeout_s: float = 60.0) -> None:
        cmd = [*self._run_as, str(self.bindir / tool), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise PostgresUnavailableError(
                f"{tool} failed ({proc.returncode}): {' / '.join(detail[-3:])} {log[-500:]}"
            )

    def start(self) -> LocalPostgres:
        """initdb, start on 127.0.0.1:port and make the test database with PostGIS."""
        self._pg(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )
        conf = "".join(f"{k} = '{v}'\n" for k, v in self.settings.items())
        with (self.datadir / "postgresql.conf").open("a") as f:
            f.write(conf)
        if self._owner is not None:  # the log file is written by the server's user
            self.logfile.touch()
            os.chown(self.logfile, self._owner.pw_uid, self._owner.pw_gid)
        self._pg("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60",
                 "start")  # fmt: skip
        self._started = True
        self.create_database("luchtwacht")
        return self

    def dsn(self, dbname: str = "luchtwacht") -> str:
        """A libpq connection string to ``dbname`` on this server (over TCP, loopback)."""
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def create_database(self, name: str, postgis: bool = True, template: str | None = None) -> str:
        """A new database (with the PostGIS extension unless told not); returns its DSN.

        From ``template`` (a database nobody is connected to) it is a file copy: fast.
        """
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            if template is not None:
                conn.execute(
                    f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'.encode()
                )
                return self.dsn(name)
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        if postgis:
            with psycopg.connect(self.dsn(name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return self.dsn(name)

    def stop(self) -> None:
        """Stop the server (immediate: its data is thrown away) and delete its folder."""
        if self._started:
            with contextlib.suppress(PostgresUnavailableError, subprocess.TimeoutExpired):
                self._pg("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Wait until the server accepts connections (after a restart)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def __enter__(self) -> LocalPostgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
