"""FilesystemIOManager: dicts as JSON files, polars DataFrames as Parquet files, on local disk.

Layout (see docs/io-manager-filesystem.md)::

    <base_path>/<key parts...>.json | .parquet                      unpartitioned
    <base_path>/<key parts...>/date=YYYY-MM-DD/data.json | .parquet  partitioned (hive style)

Writes are atomic: a temp file in the target directory, fsync, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import Field

from .core.config import KnownSettings
from .core.files import atomic_write
from .core.storage import StorageAPI, StoredData
from .files.backend import Log, Source, Writer
from .files.manager import FileStore
from .files.storage import file_delete, file_describe, file_exists

T = TypeVar("T")


class LocalBackend:
    """Files under a root directory; each write is a temp file, fsync and rename.

    Example::

        backend = LocalBackend(Path("data"))
        backend.put("raw/x.json", lambda handle: handle.write(b"{}"), content_type="")
        backend.get("raw/x.json", lambda source: source.read_bytes())  # b"{}"
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, path: str) -> Path:
        return self.root.joinpath(*path.split("/"))

    def put(
        self, path: str, write: Writer, *, content_type: str, log: Log | None = None
    ) -> str | None:
        atomic_write(self._file(path), write)
        return None

    def get(self, path: str, read: Callable[[Source], T]) -> T | None:
        file = self._file(path)
        # Read from the path (polars memory-maps Parquet); a file replaced meanwhile is read whole.
        return read(file) if file.is_file() else None

    def exists(self, path: str) -> bool:
        return self._file(path).is_file()

    def modified(self, path: str) -> dt.datetime | None:
        try:
            mtime = self._file(path).stat().st_mtime
        except FileNotFoundError:
            return None
        return dt.datetime.fromtimestamp(mtime, dt.UTC)

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._file(path).unlink()

    def uri(self, path: str) -> str:
        return self._file(path).resolve().as_uri()


class FilesystemIOManager(StorageAPI, ConfigurableIOManager, KnownSettings):
    """Stores dicts as JSON and polars DataFrames as Parquet under ``base_path``.

    One file per asset, or per partition (``<key>/date=YYYY-MM-DD/data.parquet``). A run of
    several partitions writes one file per partition: a frame split by its ``partition_expr``
    column, a dict given as ``{partition_key: payload}``. Loading several partitions returns
    one concatenated frame, or ``{partition_key: payload}`` for dicts.
    Metadata: ``table`` renames the last path part; ``write_mode`` append/upsert (with
    ``primary_key``) for frames; ``columns`` on inputs selects frame columns. ``json_indent=2``
    writes dicts as indented JSON (the dev environment's choice).

    Example::

        defs = dg.Definitions(
            assets=[...],
            resources={
                "extract_io_manager": FilesystemIOManager(base_path="data/raw", json_indent=2)
            },
        )
    """

    base_path: str = Field(
        description="Root directory of the stored files (relative paths resolve from the "
        "working directory of the Dagster process)."
    )
    json_indent: int | None = Field(
        default=None,
        ge=0,
        le=8,
        description="Indentation of the JSON files of dict payloads: None (default) writes one "
        "line; 2 writes one item per line, scalar-only lists (a candle) on one line, for "
        "reading while debugging. Loads return the same dict either way.",
    )

    def _store(self) -> FileStore:
        return FileStore(
            LocalBackend(Path(self.base_path)),
            manager="FilesystemIOManager",
            unit="file",
            missing_check=f"Or check base_path ({self.base_path!r}).",
            json_indent=self.json_indent,
        )

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self._store().handle_output(context, obj)

    def load_input(self, context: InputContext) -> Any:
        return self._store().load_input(context)

    def _exists(self, context: OutputContext) -> bool:
        return file_exists(self._store(), context)

    def _delete(self, context: OutputContext) -> None:
        file_delete(self._store(), context)

    def _describe(self, context: OutputContext) -> StoredData:
        return file_describe(self._store(), context)
