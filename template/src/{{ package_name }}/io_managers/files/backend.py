"""The interface of a file store's backend: put, get, exists, modified, delete, uri.

A backend stores opaque bytes under relative paths such as
``raw/binance_ohlcv/date=2024-01-02/data.json``; the layout, the codecs and the write modes
live in :class:`~.manager.FileStore`, written once for every backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol, TypeVar

T = TypeVar("T")

# What a backend hands a reader: a local file (read in place, e.g. memory-mapped) or a stream.
Source = Path | IO[bytes]
# Fills the file object a backend hands it (a temp file, a spooled buffer) with a payload.
Writer = Callable[[IO[bytes]], object]
# Logs a notable event of a write (e.g. a bucket created) to the run's log.
Log = Callable[[str], object]


class FileBackend(Protocol):
    """Where a file store keeps its bytes: a directory, an S3 bucket, a dict in memory.

    Every method takes a relative ``/``-separated path whose segments the store has already
    validated. A backend owns atomicity (readers see the old or the new bytes, never a part)
    and translates its own failures into errors that name the fix.

    Example (a backend that keeps bytes in a dict)::

        class DictBackend:
            def __init__(self) -> None:
                self.objects: dict[str, bytes] = {}

            def put(self, path, write, *, content_type, log=None):
                buffer = io.BytesIO()
                write(buffer)
                self.objects[path] = buffer.getvalue()
                return None  # no version ids

            def get(self, path, read):
                data = self.objects.get(path)
                return None if data is None else read(io.BytesIO(data))

            def exists(self, path):
                return path in self.objects

            def modified(self, path):
                return None  # no write times kept

            def delete(self, path):
                self.objects.pop(path, None)

            def uri(self, path):
                return f"memory://{path}"
    """

    def put(
        self, path: str, write: Writer, *, content_type: str, log: Log | None = None
    ) -> str | None:
        """Store what ``write`` produces at ``path``, atomically; the version id, if any."""
        ...

    def get(self, path: str, read: Callable[[Source], T]) -> T | None:
        """``read`` applied to the stored bytes; ``None`` if nothing is stored at ``path``."""
        ...

    def exists(self, path: str) -> bool:
        """Whether something is stored at ``path``."""
        ...

    def modified(self, path: str) -> dt.datetime | None:
        """When ``path`` was last written (UTC); ``None`` if nothing is stored there."""
        ...

    def delete(self, path: str) -> None:
        """Remove what is stored at ``path``; nothing stored is not an error."""
        ...

    def uri(self, path: str) -> str:
        """The URI of ``path`` for metadata and messages (``file://``, ``s3://``, ``memory://``)."""
        ...
