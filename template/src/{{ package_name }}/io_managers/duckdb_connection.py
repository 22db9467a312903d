"""Opening the DuckDB warehouse file: settings, lock waits, empty files, the file's catalog.

Shared by ``DuckDBIOManager`` and the warehouse query resource (``DuckDBQueryResource``), so
both open the same file the same way:

- one connection per operation, closed afterwards (no process keeps the file);
- a held file lock is retried with backoff for ``lock_timeout_seconds``, then
  ``StorageLockedError`` names the holder;
- the connection settings (``memory_limit``, ``threads``, ``temp_directory``, any other DuckDB
  setting in ``connection_config``) apply to every connection; DuckDB's refusal of a setting is
  a ``DuckDBConfigError`` naming it;
- a pre-created empty (0-byte) file is an empty database: the first write turns it into one in
  place (the same file, so a mounted file works), and reads see no tables;
- the catalog DuckDB names after the file (``market`` for ``market.duckdb``) is read from the
  connection, so statements can name tables ``"catalog"."schema"."table"``, never ambiguously.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from .core.errors import IOManagerError, MissingDataError
from .core.locks import retry_while_locked

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

LOCK_MESSAGE = "Could not set lock"
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_NOT_A_DATABASE = "not a valid DuckDB database file"
_UNKNOWN_SETTINGS = re.compile(r"options were not recognized: (?P<names>.+)$")
# Settings the connector chooses per operation: loads read-only, writes read-write.
RESERVED_SETTINGS = {"access_mode": "each operation opens the file read-only or read-write"}
SETTINGS_DOCS = "https://duckdb.org/docs/stable/configuration/overview"
# Serializes turning an empty file into a database among the threads of this process (POSIX
# locks, which keep other processes out, do not exclude threads of the same process).
_EMPTY_FILE_LOCK = threading.Lock()
_EMPTY_DATABASE: list[bytes] = []


class DuckDBConfigError(IOManagerError, ValueError):
    """DuckDB refused the configuration: a connection setting (an unknown name, a value of the
    wrong kind, one set twice) or the file at ``db_path`` (not a DuckDB database).

    Example::

        DuckDBIOManager(db_path="data/crypto.duckdb", connection_config={"thread": 2})
        # DuckDBConfigError: DuckDB does not know the setting(s) 'thread' ... did you mean
        # 'threads'? ...
    """


class Log(Protocol):
    """The part of a logger (Dagster's ``context.log``, :mod:`logging`) used here."""

    def debug(self, msg: str) -> Any: ...

    def info(self, msg: str) -> Any: ...


# ------------------------------------------------------------------------ configuration fields


def lock_timeout_field() -> Any:
    return Field(
        default=60.0,
        description="How long to retry while another process holds the file's lock.",
    )


def memory_limit_field() -> Any:
    return Field(
        default=None,
        description="DuckDB memory_limit of each connection, e.g. '4GB' or '50%' (None: "
        "DuckDB's default, 80% of RAM). Work beyond it spills to temp_directory.",
    )


def threads_field() -> Any:
    return Field(
        default=None,
        ge=1,
        description="DuckDB threads of each connection (None: DuckDB's default, one per core).",
    )


def temp_directory_field() -> Any:
    return Field(
        default=None,
        description="Where DuckDB spills work larger than memory_limit (None: DuckDB's "
        "default, '<db_path>.tmp').",
    )


def connection_config_field() -> Any:
    return Field(
        default_factory=dict,
        description="Any other DuckDB setting of each connection, by name "
        "(SELECT name FROM duckdb_settings()), e.g. {'preserve_insertion_order': False}.",
    )


def connection_settings(
    *,
    memory_limit: str | None,
    threads: int | None,
    temp_directory: str | None,
    connection_config: Mapping[str, Any],
    owner: str,
) -> dict[str, Any]:
    """The DuckDB config of every connection: the named settings plus ``connection_config``.

    A setting given twice (a field and the same name in ``connection_config``), or one the
    connector chooses itself (``access_mode``), is a ``DuckDBConfigError``.
    """
    named = {
        "memory_limit": memory_limit,
        "threads": threads,
        "temp_directory": temp_directory,
    }
    settings = {name: value for name, value in named.items() if value is not None}
    for name, value in connection_config.items():
        key = str(name).lower()
        if key in RESERVED_SETTINGS:
            raise DuckDBConfigError(
                f"{owner}: connection_config may not set {name!r}: "
                f"{RESERVED_SETTINGS[key]}. Remove it from connection_config."
            )
        if named.get(key) is not None:
            raise DuckDBConfigError(
                f"{owner}: {key!r} is set twice, as {key}=... and in connection_config. "
                "Remove one of them."
            )
        settings[key] = value
    return settings


# ------------------------------------------------------------------------ the connector


@dataclass
class DuckDBConnector:
    """Opens connections to one DuckDB file for one operation each.

    ``catalog`` is the name DuckDB gives the file's database (read from the last connection):
    statements qualify tables with it. ``owner`` names the configuration in messages.

    Example::

        connector = DuckDBConnector("data/crypto.duckdb", 60.0, {"threads": 2})
        with connector.connect(read_only=True, log=context.log) as connection:
            connection.execute("SELECT count(*) FROM crypto.market.ohlcv").fetchall()
    """

    db_path: str
    lock_timeout_seconds: float = 60.0
    settings: dict[str, Any] = field(default_factory=dict)
    owner: str = "DuckDBIOManager"
    catalog: str | None = None

    @property
    def path(self) -> Path:
        return Path(self.db_path)

    def is_empty_file(self) -> bool:
        """Whether the file exists and has no bytes (pre-created with touch, mkstemp, a mount)."""
        try:
            return self.path.stat().st_size == 0
        except OSError:
            return False

    @contextmanager
    def connect(self, *, read_only: bool, log: Log | None) -> Iterator[DuckDBPyConnection]:
        """A connection for one operation, closed afterwards so no process keeps the file.

        Waits (bounded, with backoff) while another process holds the file. Read-only:
        a missing file is a ``MissingDataError``; an empty file reads as an empty database.
        Read-write: the file and its directory are created when missing, and an empty file
        becomes an empty database in place.
        """
        import duckdb

        path = self.path
        if read_only and not path.exists():
            raise MissingDataError(
                f"The DuckDB file {path} does not exist: nothing has been written to it yet. "
                "Materialize the assets that write the warehouse first, or check db_path "
                f"({self.db_path!r})."
            )
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)

        def open_connection() -> DuckDBPyConnection:
            target = str(path)
            if self.is_empty_file():
                if read_only:
                    target = ":memory:"  # nothing stored yet: an empty database, file untouched
                else:
                    _initialize_empty_file(path)
            try:
                connection = duckdb.connect(
                    target, read_only=read_only and target != ":memory:", config=self.settings
                )
            except duckdb.Error as error:
                explained = self._explain(error)
                if explained is error:
                    raise
                raise explained from error
            return self._configure(connection)

        retries: list[float] = []

        def log_retry(error: BaseException, wait: float) -> None:
            if log is None:
                return
            # One info line per operation; the rest at debug, so a long wait does not flood logs.
            write = log.debug if retries else log.info
            retries.append(wait)
            write(
                f"DuckDB file {path} is locked by another process; retrying for up to "
                f"{self.lock_timeout_seconds:g}s ({error})"
            )

        connection = retry_while_locked(
            open_connection,
            is_locked=is_lock_error,
            timeout_seconds=self.lock_timeout_seconds,
            resource=f"DuckDB file {path}",
            holder=lock_holder,
            on_retry=log_retry,
        )
        try:
            yield connection
        finally:
            connection.close()

    def _configure(self, connection: DuckDBPyConnection) -> DuckDBPyConnection:
        try:
            # Naive timestamps and window bounds are UTC; TIMESTAMPTZ comes back as UTC.
            connection.execute("SET TimeZone = 'UTC'").fetchall()
            # fetchall: duckdb 2 refuses new work while a result is pending.
            rows = connection.execute("SELECT current_database()").fetchall()
            self.catalog = str(rows[0][0])
        except BaseException:
            connection.close()
            raise
        return connection

    def _explain(self, error: BaseException) -> BaseException:
        """DuckDB's refusal to open, as an error naming the problem and the fix."""
        import duckdb

        text = str(error)
        if is_lock_error(error):
            return error  # retried, then reported by retry_while_locked
        if isinstance(error, duckdb.IOException) and _NOT_A_DATABASE in text:
            if self.is_empty_file():
                return DuckDBConfigError(
                    f"{self.owner}: {self.path} is an empty file this process could not turn "
                    "into a database (is it writable?). Make it writable, or delete it so the "
                    f"first write creates the database. Original error: {text}"
                )
            return DuckDBConfigError(
                f"{self.owner}: {self.path} is not a DuckDB database (a file of another format). "
                f"Point db_path at a DuckDB file, or at a new or empty file. Original error: {text}"
            )
        unknown = _UNKNOWN_SETTINGS.search(text)
        if unknown is not None:
            names = [name.strip() for name in unknown["names"].split(",")]
            return DuckDBConfigError(
                f"{self.owner}: DuckDB does not know the setting(s) "
                f"{', '.join(repr(n) for n in names)}{_suggestions(names)}. Fix or remove them "
                "in connection_config; DuckDB lists the names it knows in its duckdb_settings() "
                f"table function ({SETTINGS_DOCS})."
            )
        refused = (duckdb.InvalidInputException, duckdb.ParserException, duckdb.ConversionException)
        if self.settings and isinstance(error, refused):
            return DuckDBConfigError(
                f"{self.owner}: DuckDB refused a value of the connection settings "
                f"({', '.join(sorted(self.settings))}): {text}. Fix the value (memory_limit like "
                f"'4GB' or '50%', threads a whole number >= 1; see {SETTINGS_DOCS})."
            )
        return error


# ------------------------------------------------------------------------ helpers


def is_lock_error(error: BaseException) -> bool:
    import duckdb

    return isinstance(error, duckdb.IOException) and LOCK_MESSAGE in str(error)


def lock_holder(error: BaseException) -> str | None:
    match = _LOCK_HOLDER.search(str(error))
    if match is None:
        return None
    return f"PID {match['pid']}, {match['program']}"


def quote_catalog(name: str) -> str:
    """A catalog (database) name quoted for statements: DuckDB derives it from the file name,
    which may hold any character, so embedded double quotes are doubled."""
    if "\x00" in name:
        raise ValueError(f"Refusing catalog name {name!r}: it contains a NUL character.")
    return '"' + name.replace('"', '""') + '"'


def _suggestions(names: Sequence[str]) -> str:
    import duckdb

    with duckdb.connect(":memory:") as connection:
        rows = connection.execute("SELECT name FROM duckdb_settings()").fetchall()
    known = [row[0] for row in rows]
    close = [match for name in names for match in difflib.get_close_matches(name, known, n=1)]
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _empty_database() -> bytes:
    """The bytes of a new, empty DuckDB database file of the installed duckdb version."""
    if not _EMPTY_DATABASE:
        import duckdb

        with tempfile.TemporaryDirectory(prefix="duckdb-empty-") as directory:
            template = Path(directory) / "empty.duckdb"
            duckdb.connect(str(template)).close()
            _EMPTY_DATABASE.append(template.read_bytes())
    return _EMPTY_DATABASE[0]


def _initialize_empty_file(path: Path) -> None:
    """Write an empty database into the 0-byte file at ``path``, in place.

    In place (not replaced by a new file), so a file mounted into a container, or created with
    particular owner and mode, stays that file. It is done holding the same POSIX lock DuckDB
    takes, so a process that has the file open in the meantime is never overwritten: if the lock
    is held, nothing is written and the caller's connect reports the lock (and is retried).
    """
    import fcntl

    content = _empty_database()
    with _EMPTY_FILE_LOCK:
        try:
            descriptor = os.open(path, os.O_RDWR)
        except OSError:
            return  # gone or not writable: the connect that follows reports it
        try:
            try:
                fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another process holds it
            if os.fstat(descriptor).st_size != 0:
                return  # another process made it a database meanwhile
            written = 0
            while written < len(content):
                written += os.write(descriptor, content[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # releases the lock
