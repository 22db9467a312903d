"""Atomic file writes: temp file, fsync, rename; leftovers of killed writers removed."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file so readers see the old or the new content, never a partial one.

    ``write`` fills a temp file in the same directory (same filesystem, so the rename is atomic);
    the temp file is fsynced, renamed over ``path``, and the directory entry is fsynced.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_temp_files(path)
    descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=writer_temp_prefix(path), suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_directory(path.parent)


# Temp files are named after their writer (host and PID), so a later write can tell the leftovers
# of a killed writer (SIGKILL, OOM, power loss: no cleanup ran) from a write still in progress.
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"
# Side files an engine keeps next to a temp database (``<temp>.tmp.wal``) count as the temp's.
_TEMP_NAME = re.compile(
    r"\.(?P<target>.+)\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[^.]+\.tmp(\.[A-Za-z0-9_]+)?"
)


def writer_temp_prefix(path: Path) -> str:
    """Prefix of this process's temp files for ``path``: hidden, named after host and PID."""
    return f".{path.name}.{_HOST}-{os.getpid()}."


def remove_abandoned_temp_files(path: Path) -> list[Path]:
    """Delete temp files of ``path`` left by writers of this host that are no longer running.

    Temp files are hidden (leading dot, ``.tmp``), so readers never see them; this only frees
    their space. Files of other hosts (a shared volume) or of live processes are kept.
    """
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
        match = _TEMP_NAME.fullmatch(candidate.name)
        if match is None or match["target"] != path.name or match["host"] != _HOST:
            continue
        if _process_alive(int(match["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def fsync_directory(directory: Path) -> None:
    # Makes the rename durable; not supported everywhere (e.g. Windows), so best effort.
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A hidden temp file next to ``path`` that replaces ``path`` if the block ends normally.

    For writers that need a path rather than a handle (an embedded database engine writing its
    own file). The temp file exists, empty, when the block starts; the block fills it (or deletes
    it and lets an engine create it). On success it is fsynced and renamed over ``path``; on any
    error it is removed with its side files (``<temp>.wal`` and the like) and ``path`` is left
    as it was. Leftovers of killed writers are removed first (:func:`remove_abandoned_temp_files`).

    Example::

        with atomic_path(Path("data/graph.db")) as temp:
            shutil.copyfile("data/graph.db", temp)
            update_in_place(temp)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_temp_files(path)
    descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=writer_temp_prefix(path), suffix=".tmp"
    )
    os.close(descriptor)
    temp = Path(temp_name)
    try:
        yield temp
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException:
        for leftover in [temp, *temp.parent.glob(f"{glob.escape(temp.name)}.*")]:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise
    fsync_directory(path.parent)
