"""Opening the database file: one process writes at a time, others wait for a bounded time.

A Kuzu database is one file; while one process has it open for writing, every other open fails,
read-only included. :func:`connect` opens it for one operation and closes it right after,
retrying (:func:`~..core.locks.retry_while_locked`: backoff with jitter, bounded total time)
while another process holds it; the timeout error names the holder from Linux's /proc/locks.
:func:`run_query` is the read-only Cypher path shared by ``KuzuDBIOManager.query`` and the
graph query resource.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from pydantic import Field

from ..core.errors import MissingDataError, StorageLockedError
from ..core.locks import retry_while_locked
from . import engine
from .engine import GraphConnection

EXPLORER_HINT = (
    "If Kuzu Explorer holds it, point Explorer at the published snapshot (snapshot_path) "
    "instead of the live file: see docs/io-manager-kuzu.md."
)
_UNKNOWN_HOLDER = (
    "holder not visible from this process: e.g. Kuzu Explorer opened on this file, or a "
    "Dagster step of another run writing the graph"
)
_PROC_LOCKS = Path("/proc/locks")


def lock_timeout_field() -> Any:
    """The ``lock_timeout_seconds`` setting of everything that opens the database file."""
    return Field(
        default=60.0,
        description="How long to retry while another process holds the database file.",
    )


class Log(Protocol):
    """The part of a logger (Dagster's ``context.log``, :mod:`logging`) used here.

    Example::

        with connect(path, read_only=True, timeout_seconds=5, log=context.log) as connection:
            ...
    """

    def debug(self, msg: str) -> Any: ...

    def info(self, msg: str) -> Any: ...

    def warning(self, msg: str) -> Any: ...


class _HeldElsewhere(Exception):
    """Another process holds a conflicting lock on the database file (seen in /proc/locks)."""

    def __init__(self, path: Path, holders: Sequence[int]) -> None:
        pids = ", ".join(str(pid) for pid in holders)
        super().__init__(f"Kuzu database file {path} is locked by PID {pids} (/proc/locks).")


def lock_holders(path: Path, *, exclusive: bool) -> list[int]:
    """PIDs of other processes whose lock on ``path`` conflicts; empty if none or unknowable.

    Reads Linux's /proc/locks (Kuzu takes a POSIX lock: WRITE for writers, READ for read-only
    opens). Elsewhere this returns nothing and the engine's own open reports the conflict.
    """
    try:
        stat = path.stat()
        lines = _PROC_LOCKS.read_text().splitlines()
    except OSError:
        return []
    file_id = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    holders = []
    for line in lines:
        fields = line.split()
        # "<n>: POSIX ADVISORY WRITE <pid> <maj:min:inode> <start> <end>"; "->" marks waiters.
        if len(fields) < 6 or fields[1] == "->" or fields[5] != file_id:
            continue
        mode, pid = fields[3], int(fields[4])
        if pid > 0 and pid != os.getpid() and (exclusive or mode == "WRITE"):
            holders.append(pid)
    return sorted(set(holders))


def describe_lock_holders(path: Path) -> str:
    """Who holds ``path``, for the error raised when waiting for it times out."""
    holders = lock_holders(path, exclusive=True)
    if not holders:
        return _UNKNOWN_HOLDER
    return "; ".join(f"PID {pid}: {_command_line(pid)}" for pid in holders)


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "command unknown"
    text = " ".join(raw.decode(errors="replace").replace("\0", " ").split()) or "command unknown"
    return text if len(text) <= 120 else text[:119] + "…"


def retry_logger(
    log: Log | None, path: Path, timeout_seconds: float, what: str = ""
) -> Callable[[BaseException, float], None]:
    """``on_retry`` for lock waits: one info line per operation, the rest at debug level."""
    retries: list[float] = []

    def log_retry(error: BaseException, wait: float) -> None:
        if log is None:
            return
        # One info line per operation; the rest at debug, so a long wait does not flood logs.
        emit = log.debug if retries else log.info
        retries.append(wait)
        emit(
            f"Kuzu database {path} is held by another process; retrying for up to "
            f"{timeout_seconds:g}s ({what or error})"
        )

    return log_retry


@contextmanager
def connect(
    db_path: str | Path, *, read_only: bool, timeout_seconds: float, log: Log | None = None
) -> Iterator[GraphConnection]:
    """A database and connection for one operation, both closed afterwards.

    Nothing stays open between operations, so a run never holds the file between steps.

    Example::

        with connect("data/graph.kuzu", read_only=True, timeout_seconds=60) as connection:
            frame = connection.execute("MATCH (n:Market) RETURN count(*)", {}).get_as_pl()
    """
    graphdb = engine.graphdb()
    path = Path(db_path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)

    def open_database() -> tuple[Any, GraphConnection]:
        # Asking /proc/locks first spares an attempt the engine would fail anyway (and each
        # failed open leaks a file descriptor in kuzu 0.11.3).
        holders = lock_holders(path, exclusive=not read_only)
        if holders:
            raise _HeldElsewhere(path, holders)
        database = graphdb.Database(str(path), read_only=read_only)
        try:
            return database, graphdb.Connection(database)
        except BaseException:
            database.close()
            raise

    try:
        database, connection = retry_while_locked(
            open_database,
            is_locked=lambda error: (
                isinstance(error, _HeldElsewhere) or engine.is_lock_error(error)
            ),
            timeout_seconds=timeout_seconds,
            resource=f"Kuzu database {path}",
            holder=lambda _error: describe_lock_holders(path),
            on_retry=retry_logger(log, path, timeout_seconds),
        )
    except StorageLockedError as error:
        raise StorageLockedError(f"{error} {EXPLORER_HINT}") from error.__cause__
    try:
        yield connection
    finally:
        connection.close()
        database.close()


def run_query(
    db_path: str | Path,
    cypher: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    timeout_seconds: float,
    log: Log | None = None,
) -> pl.DataFrame:
    """Run one Cypher statement on a read-only open of ``db_path``; values bound as ``$name``.

    Raises :class:`MissingDataError` when the file does not exist (a read-only open would fail
    with a less helpful message) and :class:`StorageLockedError` after ``timeout_seconds``.
    """
    if not Path(db_path).exists():
        raise MissingDataError(
            f"The Kuzu database {db_path} does not exist yet: materialize the graph assets "
            "first (or check db_path)."
        )
    with connect(db_path, read_only=True, timeout_seconds=timeout_seconds, log=log) as connection:
        return connection.execute(cypher, dict(parameters or {})).get_as_pl()
