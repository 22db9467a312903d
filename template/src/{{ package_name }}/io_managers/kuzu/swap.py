"""Writes that a killed process cannot damage: a private copy renamed into place, one writer.

kuzu 0.11.3 loses the tables it was committing when its process is killed mid-commit. So a
write runs on a private copy of the database file, which replaces the live file with a rename
(:func:`~..core.files.atomic_path`) once the transaction is committed and checkpointed. Writers
queue on a lock file next to the database, so two of them never copy the same version. After a
write, a read-only snapshot may be published for readers such as Kuzu Explorer.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..core.files import atomic_path, atomic_write
from ..core.locks import retry_while_locked
from . import engine
from .connection import Log, connect, describe_lock_holders, retry_logger
from .engine import GraphConnection
from .writes import GraphWriteError


@contextmanager
def connect_to_copy(
    db_path: str | Path,
    *,
    timeout_seconds: float,
    log: Log | None,
    after_checkpoint: Callable[[GraphConnection, Path], None],
) -> Iterator[GraphConnection]:
    """A connection to a private copy of the database, renamed over it when all went well.

    Writers take the writer lock file first, so they queue instead of copying the same
    version. Opening the live file for writing then waits for other holders (Explorer, a
    shell) and recovers it if needed; its checkpoint leaves the whole graph in the one file,
    which is copied. The caller's transaction runs on the copy; after a checkpoint the copy
    replaces the live file. Readers see the old file or the new one; a failed or killed writer
    leaves only a hidden temp file, which the next write removes.

    Example::

        with connect_to_copy(path, timeout_seconds=60, log=None, after_checkpoint=publish) as c:
            write_frame(c, target, frame)
    """
    graphdb = engine.graphdb()
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(path, timeout_seconds=timeout_seconds, log=log), atomic_path(path) as copy:
        if path.exists():
            with connect(path, read_only=False, timeout_seconds=timeout_seconds, log=log) as live:
                live.execute("CHECKPOINT")
            shutil.copyfile(path, copy)
            shutil.copymode(path, copy)  # mkstemp made it private
        else:
            copy.unlink()  # the engine creates a new database itself
        database = graphdb.Database(str(copy))
        try:
            connection: GraphConnection = graphdb.Connection(database)
            try:
                yield connection
                connection.execute("CHECKPOINT")
                after_checkpoint(connection, copy)
            finally:
                connection.close()
        finally:
            database.close()
        for side_file in copy.parent.glob(f"{glob.escape(copy.name)}.*"):
            if side_file.stat().st_size:
                raise GraphWriteError(
                    f"Kuzu left {side_file} after the checkpoint; the live database "
                    f"{path} is unchanged. Retry the write."
                )
            side_file.unlink()


@contextmanager
def writer_lock(path: Path, *, timeout_seconds: float, log: Log | None) -> Iterator[None]:
    """Hold the writer lock file of the database (one writing process at a time)."""
    import fcntl

    lock_path = path.with_name(f".{path.name}.writer.lock")
    with open(lock_path, "a+b") as lock_file:
        retry_while_locked(
            lambda: fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB),
            is_locked=lambda error: isinstance(error, BlockingIOError),
            timeout_seconds=timeout_seconds,
            resource=f"Kuzu database {path}",
            holder=lambda _error: describe_lock_holders(lock_path),
            on_retry=retry_logger(log, path, timeout_seconds, f"writer lock {lock_path}"),
        )
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def publish_snapshot(
    connection: GraphConnection, *, source: Path, snapshot_path: str | Path, log: Log
) -> None:
    """Copy the committed database to ``snapshot_path`` atomically (temp file + rename).

    Runs while this process still holds the file, after a checkpoint, so the copy is complete
    and consistent. Readers of the snapshot keep the inode they opened, so they never block or
    see a half-written file; they see the new graph when they reopen. A failure is a warning:
    the graph itself is committed, and a stale snapshot is not worth failing the run.
    """
    target = Path(snapshot_path)

    def copy_database(out: IO[bytes]) -> None:
        with open(source, "rb") as database_file:
            shutil.copyfileobj(database_file, out, 1 << 20)
            # The temp file is private; readers (Explorer's container user) need the database
            # file's own permissions.
            os.fchmod(out.fileno(), os.stat(database_file.fileno()).st_mode & 0o777)

    try:
        connection.execute("CHECKPOINT")
        atomic_write(target, copy_database)
    except (OSError, RuntimeError) as error:
        log.warning(f"Could not publish the Kuzu snapshot {target}: {error}")
