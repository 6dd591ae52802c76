"""A throwaway PostgreSQL server for tests, from Debian's `postgresql` package (no Docker).

`running_postgres()` runs `initdb` into a fresh directory and `postgres` on a free port of
127.0.0.1 (its unix socket in that directory too), waits until it accepts connections, and
on exit stops it and deletes everything. Durability is switched off: it is a test server.

PostgreSQL refuses to run as root. Under root (CI, the development machine) the server runs as
the `postgres` system user that the Debian package creates (or `nobody`), in a directory made
for it under the system's temporary directory: pytest's own tmp dirs are private to root.

Binaries are looked up in /usr/lib/postgresql/<version>/bin (the newest), then on PATH;
`connect/install.sh` installs the package when they are missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "objstream"
DATABASE = "objstream"
# A throwaway server on 127.0.0.1; a password all the same, so that the JDBC sink's
# credentials are really checked (scram-sha-256), as a real database would.
PASSWORD = "objstream-local"


class PostgresError(RuntimeError):
    """PostgreSQL could not be found or started; the message says what to check."""


def postgres_bin() -> Path:
    """The directory with initdb and postgres: Debian's newest version, else PATH's."""
    versions = sorted(
        (path for path in DEBIAN_ROOT.glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresError(
        "PostgreSQL's server binaries (initdb, postgres) are not installed: run "
        "connect/install.sh, or apt-get install postgresql"
    )


@dataclass
class PostgresServer:
    """A running server: where it listens and how to query it."""

    port: int
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    password: str = PASSWORD
    database: str = DATABASE

    @property
    def jdbc_url(self) -> str:
        """The JDBC URL a Java client (the JDBC sink connector) connects with."""
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def connect(self, database: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
        """A new autocommit connection (to the test database); close it, or use `with`."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.database,
            autocommit=True,
            connect_timeout=5,
        )

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of one statement's result."""
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(sql.encode(), params)  # bytes: psycopg types SQL as a literal string
            return cursor.fetchall()

    def table_exists(self, table: str) -> bool:
        """Whether `table` (an exact, case-sensitive name) exists in the public schema."""
        rows = self.query(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_name = %s",
            (table,),
        )
        return bool(rows)


@contextlib.contextmanager
def running_postgres(*, timeout: float = 60.0) -> Iterator[PostgresServer]:
    """Initialise, start and yield a server; stop it and delete its files afterwards."""
    bindir = postgres_bin()
    owner = _server_user()
    root = Path(tempfile.mkdtemp(prefix="objstream-postgres-"))
    try:
        data, log = root / "data", root / "postgres.log"
        pwfile = root / "password"
        pwfile.write_text(PASSWORD, "utf-8")
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        _run_as(
            owner,
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
        )
        port = _free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={root}",
                    # A test server: nothing needs to survive a crash.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **_as_user(owner),
            )
        try:
            server = PostgresServer(port)
            _wait_ready(server, process, log, timeout)
            with server.connect("postgres") as admin:
                admin.execute(f"CREATE DATABASE {DATABASE}".encode())
            yield server
        finally:
            _stop(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresError("running as root, and neither a postgres nor a nobody user exists")


def _as_user(owner: pwd.struct_passwd | None) -> dict[str, Any]:
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _run_as(owner: pwd.struct_passwd | None, args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **_as_user(owner))
    if result.returncode != 0:
        raise PostgresError(f"{Path(args[0]).name} failed: {result.stderr.strip()}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(
    server: PostgresServer, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise PostgresError(
                f"postgres exited with code {process.returncode}: "
                f"{log.read_text('utf-8', errors='replace')[-2000:]}"
            )
        try:
            with server.connect("postgres"):  # initdb's database: the test one comes next
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresError(f"postgres did not accept connections in {timeout} s") from exc
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    # SIGINT is PostgreSQL's "fast" shutdown: sessions are ended, no waiting for clients.
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
