"""FilesystemIOManager: dicts as JSON files, polars DataFrames as Parquet files, on local disk.

Layout (see docs/io-manager-filesystem.md)::

    <base_path>/<key parts...>.json | .parquet                      unpartitioned
    <base_path>/<key parts...>/date=YYYY-MM-DD/data.json | .parquet  partitioned (hive style)

Writes are atomic: a temp file in the target directory, fsync, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import polars as pl
from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import Field

from .core.codecs import EXTENSIONS, PARTITION_FILE_STEM, decode_json, encode_json
from .core.context import asset_label, materialize_hint
from .core.errors import MissingDataError, UnsupportedTypeError
from .core.files import atomic_write
from .core.frames import concat_frames, merge_frames, select_columns
from .core.metadata import StorageMetadata, storage_metadata
from .core.naming import storage_path_parts
from .core.output_metadata import build_output_metadata
from .core.partitions import PartitionSelection, partition_selection, single_partition_key
from .core.payloads import (
    PayloadKind,
    check_dict_write_mode,
    ensure_loadable,
    ensure_supported,
    payload_kind,
)


class FilesystemIOManager(ConfigurableIOManager):
    """Stores dicts as JSON and polars DataFrames as Parquet under ``base_path``.

    One file per asset, or per partition (``<key>/date=YYYY-MM-DD/data.parquet``). Loading
    several partitions returns one concatenated frame, or ``{partition_key: payload}`` for dicts.
    Metadata: ``table`` renames the last path part; ``write_mode`` append/upsert (with
    ``primary_key``) for frames; ``columns`` on inputs selects frame columns.
    """

    base_path: str = Field(
        description="Root directory of the stored files (relative paths resolve from the "
        "working directory of the Dagster process)."
    )

    # ---------------------------------------------------------------- paths

    def _stem(
        self,
        context: InputContext | OutputContext,
        meta: StorageMetadata,
        key: str | None,
        selection: PartitionSelection | None,
    ) -> Path:
        """The file path without extension of the asset (partition)."""
        parts = storage_path_parts(context, meta)
        root = Path(self.base_path)
        if selection is None or key is None:
            return root.joinpath(*parts[:-1]) / parts[-1]
        return root.joinpath(*parts, *selection.path_segments(key)) / PARTITION_FILE_STEM

    @staticmethod
    def _file(stem: Path, kind: PayloadKind) -> Path:
        # Not with_suffix: names may contain dots.
        return stem.parent / (stem.name + EXTENSIONS[kind])

    # ---------------------------------------------------------------- output

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        asset = asset_label(context)
        kind = ensure_supported(
            obj,
            context=context,
            manager="FilesystemIOManager",
            supported=("dict", "frame"),
            fix="Return a dict (stored as JSON) or a polars.DataFrame (stored as Parquet).",
        )
        meta = storage_metadata(context)
        selection = partition_selection(context)
        key = single_partition_key(context, selection, manager="FilesystemIOManager", unit="file")
        stem = self._stem(context, meta, key, selection)
        path = self._file(stem, kind)

        if kind == "dict":
            check_dict_write_mode(meta, asset=asset)
            data = encode_json(obj, asset=asset)
            atomic_write(path, lambda handle: handle.write(data))
            stored: Any = obj
        else:
            existing = None
            if meta.write_mode != "overwrite" and path.exists():
                existing = pl.read_parquet(path)
            stored = merge_frames(existing, obj, meta, asset=asset, where=str(path))
            atomic_write(path, stored.write_parquet)

        # One representation per location: drop a file left by an earlier payload type.
        other = self._file(stem, "frame" if kind == "dict" else "dict")
        with contextlib.suppress(FileNotFoundError):
            other.unlink()

        context.add_output_metadata(
            build_output_metadata(
                stored,
                partitioned=selection is not None,
                uri=path.resolve().as_uri(),
                write_mode=meta.write_mode,
            )
        )

    # ---------------------------------------------------------------- input

    def load_input(self, context: InputContext) -> Any:
        asset = asset_label(context)
        expected = ensure_loadable(
            context, manager="FilesystemIOManager", supported=("dict", "frame"), fix=""
        )
        meta = storage_metadata(context)
        selection = partition_selection(context)
        if selection is None:
            return self._load(context, meta, None, None, expected)
        if len(selection.keys) == 1:
            return self._load(context, meta, selection.keys[0], selection, expected)

        loaded = {
            key: self._load(context, meta, key, selection, expected) for key in selection.keys
        }
        kinds = {payload_kind(value) for value in loaded.values()}
        if not loaded:
            return pl.DataFrame() if expected == "frame" else {}
        if kinds == {"frame"}:
            return concat_frames(loaded, asset=asset)
        if kinds == {"dict"}:
            return loaded
        raise UnsupportedTypeError(
            f"Asset {asset}: the selected partitions mix JSON and Parquet files; re-materialize "
            "them so they hold the same payload type."
        )

    def _load(
        self,
        context: InputContext,
        meta: StorageMetadata,
        key: str | None,
        selection: PartitionSelection | None,
        expected: PayloadKind | None,
    ) -> Any:
        asset = asset_label(context)
        stem = self._stem(context, meta, key, selection)
        candidates = {kind: self._file(stem, kind) for kind in ("frame", "dict")}
        existing = [kind for kind, path in candidates.items() if path.exists()]
        where = f"partition {key} of asset {asset}" if key is not None else f"asset {asset}"
        if not existing:
            tried = [candidates[expected]] if expected else list(candidates.values())
            raise MissingDataError(
                f"No stored data for {where}: {' or '.join(map(str, tried))} does not exist. "
                f"{materialize_hint(asset, key)} Or check base_path ({self.base_path!r})."
            )
        if expected is not None and expected not in existing:
            wanted = "a polars.DataFrame" if expected == "frame" else "a dict"
            raise UnsupportedTypeError(
                f"Cannot load {where} as {wanted}: it is stored as "
                f"{candidates[existing[0]].name}. Fix the input's type annotation or "
                "re-materialize the upstream."
            )
        kind = expected or existing[0]
        path = candidates[kind]
        context.log.debug(f"Loading {where} from {path}")
        if kind == "dict":
            return decode_json(path.read_bytes())
        columns = select_columns(
            list(pl.read_parquet_schema(path)), meta.columns, asset=asset, where=str(path)
        )
        return pl.read_parquet(path, columns=columns)
