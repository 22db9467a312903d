"""The one algorithm of the file stores (filesystem, S3, memory), over a :class:`FileBackend`.

Layout (hive style, the same on every backend)::

    <key parts...>.json | .parquet                                  unpartitioned
    <key parts...>/date=YYYY-MM-DD/data.json | data.parquet          time partitions
    <key parts...>/partition=<key>/data...                          static partitions
    <key parts...>/<dim_a>=<a>/<dim_b>=<b>/data...                  multi-dimensional

One location holds one representation: writing a dict removes a frame stored at the same
location, and the reverse.

A run of several partitions (a single-run backfill) writes one file per partition, as the
partitions run one by one would: a frame split by its ``partition_expr`` column, a dict given as
``{partition_key: payload}`` (:mod:`..core.ranges`). Every partition is checked and encoded
before the first is written; each write is atomic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import IO, Any, TypeVar
from urllib.parse import unquote

from dagster import InputContext, MetadataValue, OutputContext

from ..core.codecs import PARTITION_FILE_STEM
from ..core.context import ContextT, asset_label, materialize_hint
from ..core.errors import MissingDataError, UnsupportedTypeError
from ..core.metadata import StorageMetadata, storage_metadata
from ..core.naming import storage_path_parts
from ..core.output_metadata import build_output_metadata, payload_row_count
from ..core.partitions import PartitionSelection, partition_selection
from ..core.payloads import PayloadKind, ensure_loadable, ensure_supported, payload_kind
from ..core.ranges import describe_keys, split_frame, split_mapping
from .backend import FileBackend, Source, Writer
from .codecs import CODECS, Codec, JsonCodec

T = TypeVar("T")
R = TypeVar("R")

KINDS: tuple[PayloadKind, ...] = ("frame", "dict")  # load order when the input does not say


def _other_kinds(kind: PayloadKind) -> list[PayloadKind]:
    """The payload kinds other than ``kind``, in load order."""
    return [other for other in KINDS if other != kind]


@dataclass(frozen=True)
class Written:
    """Where an output was stored: its path in the backend and the asset (partition) it holds.

    Example::

        (written,) = store.handle_output(context, frame)  # one per partition written
        written.path  # "market/ohlcv/date=2024-01-02/data.parquet"
    """

    path: str
    asset_path: tuple[str, ...]
    partition_key: str | None


@dataclass(frozen=True)
class _Put:
    """One partition of an output, ready to write: its payload under the write mode, encoded."""

    key: str | None
    kind: PayloadKind
    path: str
    paths: dict[PayloadKind, str]
    stored: Any
    writer: Writer


@dataclass(frozen=True)
class FileStore:
    """Stores dicts as JSON and polars DataFrames as Parquet through one backend.

    ``manager`` and ``unit`` name the store in messages ("FilesystemIOManager stores one file
    per partition"); ``missing_detail(path)`` adds what the backend knows about a missing path
    (e.g. a missing bucket) and ``missing_check`` which setting to check; ``concurrency``
    partitions are loaded in parallel; ``version_key`` names the metadata entry of the version
    id a backend returns; ``json_indent`` indents the JSON of dicts (None: one line).

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
    json_indent: int | None = None

    def codec(self, kind: PayloadKind) -> Codec[Any]:
        """The codec that writes ``kind`` (JSON indented as ``json_indent`` says)."""
        codec = CODECS[kind]
        if isinstance(codec, JsonCodec) and self.json_indent is not None:
            return replace(codec, indent=self.json_indent)
        return codec

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

    def handle_output(self, context: OutputContext, obj: Any) -> tuple[Written, ...]:
        """Store ``obj``: one file per partition; a run of several partitions writes each.

        Every partition's payload is checked, merged under the write mode and encoded before
        the first one is written, so a refused output writes nothing; each write is atomic.
        """
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
        payloads = self._payloads(obj, kind, meta, selection, asset)
        puts = self._each(
            lambda item: self._prepare(context, meta, selection, item[0], item[1], asset),
            list(payloads.items()),
        )
        # The first write alone (a backend may set up its storage on it, e.g. create a bucket).
        results = [self._write(puts[0], context)]
        results += self._each(lambda put: self._write(put, context), puts[1:])

        asset_path = storage_path_parts(context, meta)
        ranged = len(puts) > 1
        sizes = [size for _, size in results]
        # Schema and preview of the first partition with rows (all partitions share the schema).
        first = next((put.stored for put in puts if payload_row_count(put.stored)), puts[0].stored)
        metadata: dict[str, MetadataValue] = build_output_metadata(
            first,
            partitioned=selection is not None,
            uri=self.backend.uri("/".join(asset_path) if ranged else puts[0].path),
            row_count=sum(payload_row_count(put.stored) for put in puts),
            write_mode=meta.write_mode,
            partitions=[str(put.key) for put in puts] if ranged else None,
            bytes_written=None if None in sizes else sum(size or 0 for size in sizes),
        )
        versions = {str(put.key): version for put, (version, _) in zip(puts, results, strict=True)}
        if self.version_key and any(versions.values()):
            metadata[self.version_key] = (
                MetadataValue.json(versions)
                if ranged
                else MetadataValue.text(next(iter(versions.values())) or "")
            )
        context.add_output_metadata(metadata)
        return tuple(Written(put.path, asset_path, put.key) for put in puts)

    def _payloads(
        self,
        obj: Any,
        kind: PayloadKind,
        meta: StorageMetadata,
        selection: PartitionSelection | None,
        asset: str,
    ) -> dict[str | None, Any]:
        """The payload of each partition written: ``obj`` itself, or its split for a range."""
        if selection is None or len(selection.keys) == 1:
            return {selection.keys[0] if selection is not None else None: obj}
        if kind == "dict":
            split: dict[str, Any] = split_mapping(obj, selection, asset=asset)
            for key, value in split.items():
                if payload_kind(value) is None:
                    raise UnsupportedTypeError(
                        f"{self.manager} cannot store partition {key} of asset {asset}: the "
                        f"run's {{partition_key: payload}} output holds a "
                        f"{type(value).__qualname__} for it. Each payload must be a dict "
                        f"(stored as a JSON {self.unit}) or a polars.DataFrame (a Parquet "
                        f"{self.unit})."
                    )
        else:
            needs = (
                f"{self.manager} stores the output of a run of {len(selection.keys)} partitions "
                f"({describe_keys(selection.keys)}) of asset {{asset}} as one {self.unit} per "
                "partition, so it needs to know"
            )
            split = split_frame(obj, selection, meta, asset=asset, needs=needs, unit=self.unit)
        return {key: value for key, value in split.items()}

    def _prepare(
        self,
        context: OutputContext,
        meta: StorageMetadata,
        selection: PartitionSelection | None,
        key: str | None,
        payload: Any,
        asset: str,
    ) -> _Put:
        """What to store for one partition under the write mode, encoded (nothing written)."""
        kind = payload_kind(payload)
        assert kind is not None  # checked by handle_output and _payloads
        paths = self.paths(context, meta, key, selection)
        path, codec = paths[kind], self.codec(kind)
        where = self.shown(path)

        def read_stored(source: Source) -> Any:
            return codec.decode(source, columns=None, asset=asset, where=where)

        def stored_value() -> Any:
            return self.backend.get(path, read_stored)

        stored = codec.update(payload, meta, stored_value, asset=asset, where=where)
        return _Put(key, kind, path, paths, stored, codec.encode(stored, asset=asset))

    def _write(self, put: _Put, context: OutputContext) -> tuple[str | None, int | None]:
        """Write one partition atomically; its version id (if any) and size in bytes."""
        codec = CODECS[put.kind]
        size: list[int | None] = [None]

        def write(handle: IO[bytes]) -> None:
            put.writer(handle)
            with contextlib.suppress(OSError, ValueError):
                size[0] = handle.tell()

        version_id = self.backend.put(
            put.path, write, content_type=codec.content_type, log=context.log.info
        )
        # One representation per location: drop what an earlier payload kind left. Checked
        # first: on a versioned bucket a blind delete would add a delete marker.
        for other in _other_kinds(put.kind):
            if self.backend.exists(put.paths[other]):
                self.backend.delete(put.paths[other])
        return version_id, size[0]

    def _each(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``function`` over ``items``, ``concurrency`` at a time, results in order. The first
        error (in item order) raises once the running calls finish; calls not started yet are
        cancelled."""
        workers = min(self.concurrency, len(items))
        if workers <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(function, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

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
