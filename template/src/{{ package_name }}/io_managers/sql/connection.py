"""Connections of SQLIOManager: the engine, one transaction per operation, retries.

PostgreSQL operations are retried (bounded attempts, exponential backoff with jitter, bounded
total time, through :func:`...retry.retry_call`) while the server cannot be reached, is starting
up or shutting down, or drops the connection before COMMIT: the server then rolls the transaction
back, so running it again is safe. A login the server refuses (wrong password, unknown user or
database) fails at once with :class:`SQLLoginRefusedError`, as does anything else; the password
never reaches a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, LiteralString, TypeVar, cast

from ...retry import Backoff, Retry, retry_call
from ..core.errors import IOManagerError
from ..tables.client import Param, Row

if TYPE_CHECKING:
    import sqlite3

    import psycopg
    from sqlalchemy import URL, Engine

    Driver = psycopg.Connection[Any] | sqlite3.Connection

T = TypeVar("T")
DbType = Literal["postgresql", "sqlite"]
MANAGER = "SQLIOManager"

# SQLSTATEs of a server that is unreachable, shutting down or starting up (class 08: connection
# exception; 57P01-57P03: admin/crash shutdown, cannot connect now; 53300: too many connections).
# Anything else (wrong password 28P01, unknown database 3D000) would fail again the same way: not
# retried.
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# A failed connect carries no SQLSTATE (libpq keeps only the text, so psycopg 3.3 reports
# `sqlstate` None): what the server said is read from libpq's message. The server's own reports
# of a state that passes (SQLSTATE 57P01, 57P03, 53300), retried:
_NOT_READY_MESSAGES = (
    "the database system is starting up",
    "the database system is not yet accepting connections",
    "the database system is not accepting connections",
    "the database system is in recovery mode",
    "the database system is shutting down",
    "terminating connection due to administrator command",
    "sorry, too many clients already",
    "remaining connection slots are reserved",
)
# The server's refusals of a login (SQLSTATE classes 28 and 3D, 42501), and libpq's own when
# the server asks for a password and none is configured: the same settings would be refused
# again, so they are not retried. Any other text (no answer, or a translated server message)
# is retried like an outage: at worst slower, never a lost retry.
_REFUSAL_MESSAGES = (
    "authentication failed for user",  # password, md5, scram, peer, ident, ...
    "does not exist",  # database "d" / role "u"
    "no pg_hba.conf entry",
    "pg_hba.conf rejects connection",
    "permission denied for database",
    "is not permitted to log in",
    "no password supplied",
)
_NO_PASSWORD = "no password supplied"  # pragma: allowlist secret (libpq message)
# Backoff between attempts to reach PostgreSQL: 0.5 s, 1 s, 2 s ... at most 5 s, plus jitter.
RETRY_INITIAL_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0


class SQLConnectionError(IOManagerError, ConnectionError):
    """The database could not be reached; the message shows the URL with the password masked.

    Example::

        try:
            manager.handle_output(context, frame)
        except SQLConnectionError as error:
            log.error(str(error))  # postgresql+psycopg://user:***@host:5432/db ...
    """

    RETRYABLE = True


class SQLLoginRefusedError(SQLConnectionError, PermissionError):
    """The server answered and refused the login (password, user, database or access rules).

    Never retried: the same settings would be refused again. The message names the setting to
    fix, and the variable the project's staging and prod environments read it from.

    Example::

        try:
            manager.handle_output(context, frame)
        except SQLLoginRefusedError as error:
            log.error(str(error))  # "... refused the login ... Check password (POSTGRES_PASSWORD)"
    """

    RETRYABLE = False


class ServerUnavailable(Exception):
    """The server could not be reached, or dropped the connection before COMMIT: retryable.

    Either way no transaction of ours was committed, so running the operation again is safe.

    Example::

        raise ServerUnavailable("connection refused", phase="connect")
    """

    def __init__(self, reason: str, *, phase: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.phase = phase


def trusted_sql(statement: str) -> LiteralString:
    """``statement`` as the query type the drivers declare (``LiteralString``).

    psycopg and sqlite3 type their queries as literal strings to catch values formatted into
    SQL. That is safe here: the statements of the SQL clients format in only identifiers that
    were validated (``validate_identifier``) and quoted (``quote_identifier``), type names of a
    fixed table, and checked stored-schema text; every value travels as a bound parameter (or,
    for COPY, in the data stream or bound by psycopg itself).
    """
    return cast("LiteralString", statement)


class SQLSession:
    """Statements on the driver connection of one transaction (psycopg or sqlite3).

    Example::

        with connection.transaction(write=False) as session:
            session.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", ["market"])
    """

    def __init__(self, db_type: DbType, driver: Driver) -> None:
        self.db_type = db_type
        self.driver = driver

    def execute(self, statement: str, params: Sequence[Param] = ()) -> list[Row]:
        cursor = self.driver.cursor()
        query = trusted_sql(statement)
        try:
            # psycopg parses %-placeholders only when parameters are given.
            if self.db_type == "sqlite" or params:
                cursor.execute(query, tuple(params))
            else:
                cursor.execute(query)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def postgres_driver(self) -> psycopg.Connection[Any]:
        """The psycopg connection of a PostgreSQL session."""
        import psycopg

        if not isinstance(self.driver, psycopg.Connection):
            raise TypeError(f"{MANAGER}: a {self.db_type} session has no psycopg connection")
        return self.driver

    def sqlite_driver(self) -> sqlite3.Connection:
        """The sqlite3 connection of a SQLite session."""
        import sqlite3

        if not isinstance(self.driver, sqlite3.Connection):
            raise TypeError(f"{MANAGER}: a {self.db_type} session has no sqlite3 connection")
        return self.driver


@dataclass
class SQLConnection:
    """How to reach one PostgreSQL or SQLite database, and run work in a transaction there.

    Example::

        connection = SQLConnection("sqlite", url=URL.create("sqlite", database="x.sqlite"),
                                   database="x.sqlite", password=None)
        rows = connection.run(lambda s: s.execute("SELECT 1"), write=False, log=print)
    """

    db_type: DbType
    url: URL
    database: str
    password: str | None
    connect_timeout_seconds: int = 10
    connect_attempts: int = 3
    _engine: Engine | None = field(default=None, repr=False)

    def masked_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def engine(self) -> Engine:
        if self._engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            # NullPool: a connection per operation, closed afterwards, so nothing stays open in
            # `dg dev` between runs and nothing is shared across forked step processes.
            if self.db_type == "sqlite":
                connect_args: dict[str, Any] = {
                    "timeout": self.connect_timeout_seconds,
                    # Transactions are begun explicitly (BEGIN IMMEDIATE for writes) so DDL is
                    # inside them too; the sqlite3 module's implicit transactions are off.
                    "isolation_level": None,
                }
            else:
                connect_args = {
                    "connect_timeout": self.connect_timeout_seconds,
                    "application_name": "dagster-sql-io-manager",
                    # Naive timestamps and partition bounds are UTC.
                    "options": "-c TimeZone=UTC",
                    # A server that vanishes without closing the socket (host down, network cut)
                    # is noticed in about a minute instead of hanging the step (TCP only).
                    "keepalives": 1,
                    "keepalives_idle": 30,
                    "keepalives_interval": 10,
                    "keepalives_count": 3,
                }
            self._engine = create_engine(self.url, poolclass=NullPool, connect_args=connect_args)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def scrub(self, text: str) -> str:
        """``text`` with the password masked, for errors built from driver messages."""
        if self.password:
            text = text.replace(self.password, "***")
        return text

    def run(self, work: Callable[[SQLSession], T], *, write: bool, log: Callable[[str], Any]) -> T:
        """``work`` in one transaction, again (bounded, with backoff) while the server is away.

        Retried: the server cannot be reached or restarts, or the connection drops before
        COMMIT (the server then rolls the transaction back, so nothing was written). Not
        retried: a connection lost during COMMIT (the outcome is unknown), and every other
        error. The last failure is a :class:`SQLConnectionError` naming the URL and the fix.
        """
        attempts = self.connect_attempts if self.db_type == "postgresql" else 1
        made: list[int] = []

        def attempt() -> T:
            made.append(1)
            with self.transaction(write=write) as session:
                return work(session)

        def log_retry(retry: Retry) -> None:
            reason = retry.error.reason if isinstance(retry.error, ServerUnavailable) else ""
            log(
                f"{MANAGER}: {self.masked_url()} unavailable ({reason}); attempt "
                f"{retry.attempt + 1} of {attempts} in {retry.wait:.2f} s"
            )

        try:
            return retry_call(
                attempt,
                retry_on=lambda error: isinstance(error, ServerUnavailable),
                backoff=Backoff(
                    attempts=attempts,
                    # Bounded in time as well: a few connect timeouts plus the waits.
                    timeout_seconds=attempts * (self.connect_timeout_seconds + RETRY_MAX_SECONDS),
                    initial_seconds=RETRY_INITIAL_SECONDS,
                    max_seconds=RETRY_MAX_SECONDS,
                    jitter_seconds=RETRY_INITIAL_SECONDS / 2,
                ),
                on_retry=log_retry,
            )
        except ServerUnavailable as error:
            raise SQLConnectionError(self._unavailable_message(error, len(made), write)) from None

    def _unavailable_message(self, error: ServerUnavailable, attempts: int, write: bool) -> str:
        what = "write" if write else "read"
        if error.phase == "connect":
            problem = f"cannot connect to {self.masked_url()}"
        else:
            problem = (
                f"lost the connection to {self.masked_url()} during the {what}; the server rolls "
                "the unfinished transaction back, so the stored data is unchanged"
            )
        return (
            f"{MANAGER} {problem} ({error.reason}), after {attempts} attempt(s). Is the server "
            "running and reachable (docker compose up -d postgres for the local one)? Check "
            "host, port, db_name, username and the password variable; re-execute the step once "
            "it is back, or raise connect_attempts / connect_timeout_seconds for a slow restart."
        )

    def _refused_message(self, reason: str) -> str:
        user = self.url.username or "(libpq's default: PGUSER or the OS user)"
        if "does not exist" in reason and "database" in reason:
            fix = (
                f"Check db_name (POSTGRES_DB in the staging and prod environments): database "
                f"{self.database!r} does not exist on this server. Create it (CREATE DATABASE, "
                "owned by the user) or name an existing one."
            )
        elif "password authentication failed" in reason or _NO_PASSWORD in reason:
            fix = (
                "Check password (POSTGRES_PASSWORD in the staging and prod environments, see "
                f".env.example): it must be the password of user {user!r} on this server. "
                "Check username (POSTGRES_USER) too: PostgreSQL answers an unknown user the "
                "same way as a wrong password."
            )
        elif "role" in reason and "does not exist" in reason:
            fix = (
                f"Check username (POSTGRES_USER in the staging and prod environments): user "
                f"{user!r} does not exist on this server."
            )
        elif "pg_hba.conf" in reason:
            fix = (
                "The server's access rules (pg_hba.conf) admit no login of this user to this "
                "database from this host: ask its administrator for an entry, or check "
                "username, db_name and host."
            )
        else:
            fix = (
                "Check username (POSTGRES_USER), password (POSTGRES_PASSWORD) and db_name "
                "(POSTGRES_DB), and that the user may connect to the database."
            )
        return (
            f"{MANAGER}: {self.masked_url()} refused the login ({reason}). {fix} Not retried: "
            "the same settings would be refused again."
        )

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[SQLSession]:
        """One transaction on a fresh connection: committed on success, rolled back on error.

        Raises :class:`ServerUnavailable` when the server cannot be reached or drops the
        connection before COMMIT (retryable, see :meth:`run`).
        """
        from sqlalchemy.exc import DBAPIError

        if self.db_type == "sqlite" and write:
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = self.engine().connect()
        except DBAPIError as error:
            reason = self.scrub(str(error.orig)).strip()
            if self.db_type == "postgresql" and server_unavailable(error.orig):
                raise ServerUnavailable(reason, phase="connect") from None
            if self.db_type == "postgresql" and login_refused(error.orig):
                raise SQLLoginRefusedError(self._refused_message(reason)) from None
            # `from None`: the chained driver error is not scrubbed, so it is not attached.
            raise SQLConnectionError(
                f"{MANAGER} cannot connect to {self.masked_url()}: {reason}. Check host, port, "
                "db_name, username and the password variable, and that the server is running."
            ) from None
        try:
            driver: Driver | None = connection.connection.driver_connection
            if driver is None:  # only for a closed or invalidated connection, never a fresh one
                raise SQLConnectionError(f"{MANAGER}: {self.masked_url()} gave no connection")
            if self.db_type == "sqlite":
                # IMMEDIATE takes the write lock up front: two writers wait for each other
                # (busy timeout) instead of deadlocking on a lock upgrade.
                driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            session = SQLSession(self.db_type, driver)
            committing = False
            try:
                yield session
                committing = True
                driver.commit()
            except BaseException as error:
                # A lost connection cannot roll back (the server already did): keep the
                # original error rather than the rollback's.
                with suppress(Exception):
                    driver.rollback()
                if self.db_type == "postgresql" and connection_lost(driver, error):
                    reason = self.scrub(str(error)).strip()
                    if committing:
                        raise SQLConnectionError(
                            f"{MANAGER} lost the connection to {self.masked_url()} while "
                            f"committing ({reason}): the write may or may not be stored. "
                            "Re-execute the step once the server is back (an overwrite of "
                            "the same partition gives the same result)."
                        ) from None
                    raise ServerUnavailable(reason, phase="transaction") from None
                raise
        finally:
            connection.close()


def server_unavailable(error: BaseException | None) -> bool:
    """A failure of a server that is down, unreachable, starting up or shutting down (retryable).

    A login the server refused is not one (see :func:`login_refused`).
    """
    import psycopg

    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    if state is not None:
        return state.startswith("08") or state in _UNAVAILABLE_STATES
    message = str(error)
    if any(text in message for text in _NOT_READY_MESSAGES):
        return True
    # No answer from a server at all (refused, timeout, unknown host), or a dropped connection.
    return not login_refused(error)


def login_refused(error: BaseException | None) -> bool:
    """A connect failure the server answered with a refusal (password, user, database ...)."""
    import psycopg

    if not isinstance(error, psycopg.OperationalError) or error.sqlstate is not None:
        return False
    message = str(error)
    if any(text in message for text in _NOT_READY_MESSAGES):
        return False
    return any(text in message for text in _REFUSAL_MESSAGES)


def connection_lost(driver: Driver, error: BaseException) -> bool:
    """Whether ``error`` means the PostgreSQL connection is gone (server stopped or cut off)."""
    import psycopg

    if not isinstance(error, psycopg.OperationalError):
        return False
    return bool(getattr(driver, "broken", False)) or server_unavailable(error)
