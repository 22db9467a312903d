"""InMemoryIOManager: keeps dicts and frames in the process, for tests.

It is the file store over a dict of bytes: the same layout, codecs (JSON for dicts, Parquet for
frames), write modes, partitions and errors as the filesystem and S3, so a test sees exactly
what a real store returns.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from dagster import AssetKey, InputContext, IOManager, OutputContext

from .core.payloads import PayloadKind
from .core.storage import StorageAPI, StoredData
from .files.backend import Log, Source, Writer
from .files.codecs import CODECS, decode_bytes
from .files.manager import FileStore
from .files.storage import file_delete, file_describe, file_exists

T = TypeVar("T")
StorageKey = tuple[tuple[str, ...], str | None]


class MemoryBackend:
    """Bytes per path in a dict of this process.

    Example::

        backend = MemoryBackend()
        backend.put("raw/x.json", lambda handle: handle.write(b"{}"), content_type="")
        backend.objects  # {"raw/x.json": b"{}"}
    """

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.written_at: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def put(
        self, path: str, write: Writer, *, content_type: str, log: Log | None = None
    ) -> str | None:
        buffer = io.BytesIO()
        write(buffer)  # a failed write stores nothing
        with self._lock:
            self.objects[path] = buffer.getvalue()
            self.written_at[path] = dt.datetime.now(dt.UTC)
        return None

    def get(self, path: str, read: Callable[[Source], T]) -> T | None:
        data = self.objects.get(path)
        return None if data is None else read(io.BytesIO(data))

    def exists(self, path: str) -> bool:
        return path in self.objects

    def delete(self, path: str) -> None:
        with self._lock:
            self.objects.pop(path, None)
            self.written_at.pop(path, None)

    def modified(self, path: str) -> dt.datetime | None:
        return self.written_at.get(path)

    def uri(self, path: str) -> str:
        return f"memory://{path}"


class InMemoryIOManager(StorageAPI, IOManager):
    """Stores dicts and polars DataFrames in this process, as the file stores do on disk.

    A plain ``IOManager`` (not a configurable one), so the instance you pass to
    ``materialize(..., resources={"io_manager": manager})`` is the one that stores the values and
    can be inspected afterwards with :meth:`get`. Values do not cross process boundaries: use it
    with the in-process executor (``materialize`` uses it).
    ``json_indent`` indents the stored JSON of dicts, as the file stores' setting does.

    Example::

        memory = InMemoryIOManager()
        dg.materialize([binance_ohlcv], partition_key="2024-01-02",
                       resources={"extract_io_manager": memory})
        payload = memory.get(["raw", "binance_ohlcv"], "2024-01-02")  # a JSON-compatible dict
    """

    def __init__(self, *, json_indent: int | None = None) -> None:
        self.backend = MemoryBackend()
        self._store = FileStore(
            self.backend,
            manager="InMemoryIOManager",
            unit="value",
            missing_check="Use the same InMemoryIOManager instance for both runs.",
            json_indent=json_indent,
        )
        # (asset path, partition key) -> path of its stored bytes, for get() and values.
        self._locations: dict[StorageKey, str] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        for written in self._store.handle_output(context, obj):
            key = None if written.partition_key is None else str(written.partition_key)
            self._locations[(written.asset_path, key)] = written.path

    def load_input(self, context: InputContext) -> Any:
        return self._store.load_input(context)

    def get(self, asset_key: AssetKey | str | list[str], partition_key: str | None = None) -> Any:
        """The stored value of an asset (partition), as a load would return it."""
        key = asset_key if isinstance(asset_key, AssetKey) else AssetKey.from_coercible(asset_key)
        path = self._locations[(tuple(key.path), partition_key)]
        return self._decode(path)

    @property
    def values(self) -> dict[StorageKey, Any]:
        """Every stored value by (asset path, partition key)."""
        return {location: self._decode(path) for location, path in self._locations.items()}

    def paths(self) -> list[str]:
        """Every stored path (the layout of the file stores), sorted."""
        return sorted(self.backend.objects)

    def _decode(self, path: str) -> Any:
        kind: PayloadKind = next(k for k, c in CODECS.items() if path.endswith(c.extension))
        return decode_bytes(kind, self.backend.objects[path], asset=path)

    def _exists(self, context: OutputContext) -> bool:
        return file_exists(self._store, context)

    def _delete(self, context: OutputContext) -> None:
        file_delete(self._store, context)
        self._locations = {k: p for k, p in self._locations.items() if p in self.backend.objects}

    def _describe(self, context: OutputContext) -> StoredData:
        return file_describe(self._store, context)
