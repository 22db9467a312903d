"""The one algorithm of the file stores (filesystem, S3, memory), over a :class:`FileBackend`.

Layout (hive style, the same on every backend)::

    <key parts...>.json | .parquet                                  unpartitioned
    <key parts...>/date=YYYY-MM-DD/data.json | data.parquet          time partitions
    <key parts...>/partition=<key>/data...                          static partitions
    <key parts...>/<dim_a>=<a>/<dim_b>=<b>/data...                  multi-dimensional

One location holds one representation: writing a dict removes a frame stored at the same
location, and the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from dagster import InputContext, MetadataValue, OutputContext

from ..core.codecs import PARTITION_FILE_STEM
from ..core.context import ContextT, asset_label, materialize_hint
from ..core.errors import MissingDataError, UnsupportedTypeError
from ..core.metadata import StorageMetadata, storage_metadata
from ..core.naming import storage_path_parts
from ..core.output_metadata import build_output_metadata
from ..core.partitions import PartitionSelection, partition_selection, single_partition_key
from ..core.payloads import PayloadKind, ensure_loadable, ensure_supported, payload_kind
from .backend import FileBackend, Source
from .codecs import CODECS

KINDS: tuple[PayloadKind, ...] = ("frame", "dict")  # load order when the input does not say


def _other_kinds(kind: PayloadKind) -> list[PayloadKind]:
    """The payload kinds other than ``kind``, in load order."""
    return [other for other in KINDS if other != kind]


@dataclass(frozen=True)
class Written:
    """Where an output was stored: its path in the backend and the asset (partition) it holds.

    Example::

        written = store.handle_output(context, frame)
        written.path  # "market/ohlcv/date=2024-01-02/data.parquet"
    """

    path: str
    asset_path: tuple[str, ...]
    partition_key: str | None


@dataclass(frozen=True)
class FileStore:
    """Stores dicts as JSON and polars DataFrames as Parquet through one backend.

    ``manager`` and ``unit`` name the store in messages ("FilesystemIOManager stores one file
    per partition"); ``missing_detail(path)`` adds what the backend knows about a missing path
    (e.g. a missing bucket) and ``missing_check`` which setting to check; ``concurrency``
    partitions are loaded in parallel; ``version_key`` names the metadata entry of the version
    id a backend returns.

    Example::

        store = FileStore(LocalBackend(Path("data")), manager="FilesystemIOManager", unit="file")
        store.handle_output(context, {"data": [...]})  # data/raw/x.json
        payload = store.load_input(input_context)
    """

    backend: FileBackend
    manager: str
    unit: str
    missing_check: str = ""
    missing_detail: Callable[[str], str] | None = None
    concurrency: int = 1
    version_key: str | None = None

    # ---------------------------------------------------------------- layout

    def paths(
        self,
        context: ContextT,
        meta: StorageMetadata,
        partition_key: str | None,
        selection: PartitionSelection | None,
    ) -> dict[PayloadKind, str]:
        """The path of the asset (partition) for each payload kind."""
        parts = storage_path_parts(context, meta)
        if selection is not None and partition_key is not None:
            parts = (*parts, *selection.path_segments(partition_key), PARTITION_FILE_STEM)
        stem = "/".join(parts)
        return {kind: stem + codec.extension for kind, codec in CODECS.items()}

    def shown(self, path: str) -> str:
        """The URI of ``path`` as messages show it (file URIs decoded: ``date=``, not ``%3D``)."""
        uri = self.backend.uri(path)
        return unquote(uri) if uri.startswith("file:") else uri

    # ---------------------------------------------------------------- output

    def handle_output(self, context: OutputContext, obj: Any) -> Written:
        asset = asset_label(context)
        kind = ensure_supported(
            obj,
            context=context,
            manager=self.manager,
            supported=KINDS,
            fix=f"Return a dict (stored as a JSON {self.unit}) or a polars.DataFrame (stored as "
            f"a Parquet {self.unit}).",
        )
        meta = storage_metadata(context)
        selection = partition_selection(context)
        partition_key = single_partition_key(
            context, selection, manager=self.manager, unit=self.unit
        )
        paths = self.paths(context, meta, partition_key, selection)
        path, codec = paths[kind], CODECS[kind]
        uri, where = self.backend.uri(path), self.shown(path)

        def read_stored(source: Source) -> Any:
            return codec.decode(source, columns=None, asset=asset, where=where)

        def stored_value() -> Any:
            return self.backend.get(path, read_stored)

        stored = codec.update(obj, meta, stored_value, asset=asset, where=where)
        version_id = self.backend.put(
            path,
            codec.encode(stored, asset=asset),
            content_type=codec.content_type,
            log=context.log.info,
        )
        # One representation per location: drop what an earlier payload kind left. Checked
        # first: on a versioned bucket a blind delete would add a delete marker.
        for other in _other_kinds(kind):
            if self.backend.exists(paths[other]):
                self.backend.delete(paths[other])

        metadata: dict[str, MetadataValue] = build_output_metadata(
            stored, partitioned=selection is not None, uri=uri, write_mode=meta.write_mode
        )
        if version_id and self.version_key:
            metadata[self.version_key] = MetadataValue.text(version_id)
        context.add_output_metadata(metadata)
        return Written(path, storage_path_parts(context, meta), partition_key)

    # ---------------------------------------------------------------- input

    def load_input(self, context: InputContext) -> Any:
        asset = asset_label(context)
        expected = ensure_loadable(context, manager=self.manager, supported=KINDS, fix="")
        meta = storage_metadata(context)
        selection = partition_selection(context)
        keys: Sequence[str | None] = selection.keys if selection is not None else (None,)
        if not keys:
            return CODECS[expected or "dict"].empty()
        targets = {key: self.paths(context, meta, key, selection) for key in keys}
        first_key = keys[0]
        first = targets[first_key][expected or "frame"]
        context.log.debug(
            f"Loading {len(keys)} {self.unit}(s) of asset {asset} from "
            f"{self.shown(first)}" + (" ..." if len(keys) > 1 else "")
        )

        def load(key: str | None) -> Any:
            return self._load_one(asset, meta, key, targets[key], expected)

        if selection is None or len(keys) == 1:
            return load(first_key)
        workers = min(self.concurrency, len(keys))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                values = list(pool.map(load, keys))
        else:
            values = [load(key) for key in keys]
        loaded = dict(zip(keys, values, strict=True))

        kinds: set[PayloadKind | None] = {payload_kind(value) for value in values}
        if len(kinds) == 1 and (kind := kinds.pop()) is not None:
            return CODECS[kind].combine(loaded, asset=asset)
        raise UnsupportedTypeError(
            f"Asset {asset}: the selected partitions mix JSON and Parquet {self.unit}s; "
            "re-materialize them so they hold the same payload type."
        )

    def _load_one(
        self,
        asset: str,
        meta: StorageMetadata,
        partition_key: str | None,
        paths: dict[PayloadKind, str],
        expected: PayloadKind | None,
    ) -> Any:
        where = (
            f"partition {partition_key} of asset {asset}"
            if partition_key is not None
            else f"asset {asset}"
        )
        order: list[PayloadKind] = [expected] if expected else list(KINDS)
        for kind in order:
            codec, uri = CODECS[kind], self.shown(paths[kind])
            value = self.backend.get(
                paths[kind],
                lambda source, c=codec, u=uri: c.decode(
                    source, columns=meta.columns, asset=asset, where=u
                ),
            )
            if value is not None:
                return value

        if expected is not None:
            other = _other_kinds(expected)[0]
            if self.backend.exists(paths[other]):
                raise UnsupportedTypeError(
                    f"Cannot load {where} as {CODECS[expected].description}: it is stored as "
                    f"{self.shown(paths[other])}. Fix the input's type annotation or "
                    "re-materialize the upstream."
                )
        tried = " or ".join(self.shown(paths[kind]) for kind in order)
        detail = self.missing_detail(paths[order[0]]) if self.missing_detail else ""
        raise MissingDataError(
            f"No stored data for {where}: {tried} does not exist{detail}. "
            f"{materialize_hint(asset, partition_key)} {self.missing_check}".rstrip()
        )
