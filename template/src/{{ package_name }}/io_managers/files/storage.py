"""The storage API of the file stores (filesystem, S3, memory), written once.

A partition is its one file or object (``<key>/date=YYYY-MM-DD/data.parquet``); an
unpartitioned asset is its file (``<key>.parquet`` or ``.json``).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from dagster import OutputContext

from ..core.context import asset_label
from ..core.errors import MissingDataError
from ..core.metadata import storage_metadata
from ..core.output_metadata import payload_row_count
from ..core.partitions import partition_selection
from ..core.payloads import PayloadKind
from ..core.storage import StoredData, json_columns, polars_columns
from .codecs import CODECS
from .manager import KINDS, FileStore


def _paths(store: FileStore, context: OutputContext) -> tuple[str | None, dict[PayloadKind, str]]:
    selection = partition_selection(context)
    key = str(selection.keys[0]) if selection is not None else None
    return key, store.paths(context, storage_metadata(context), key, selection)


def file_exists(store: FileStore, context: OutputContext) -> bool:
    """A JSON or Parquet file is stored for the asset (partition)."""
    _key, paths = _paths(store, context)
    return any(store.backend.exists(paths[kind]) for kind in KINDS)


def file_delete(store: FileStore, context: OutputContext) -> None:
    """Remove the asset's (partition's) file; nothing stored is a no-op."""
    _key, paths = _paths(store, context)
    for kind in KINDS:
        if store.backend.exists(paths[kind]):
            store.backend.delete(paths[kind])
            context.log.info(f"Deleted {store.shown(paths[kind])}")


def file_describe(store: FileStore, context: OutputContext) -> StoredData:
    """Rows, columns, URI and modification time of the stored file."""
    asset = asset_label(context)
    key, paths = _paths(store, context)
    for kind in KINDS:
        path, codec = paths[kind], CODECS[kind]
        where = store.shown(path)
        value: Any = store.backend.get(
            path,
            lambda source, c=codec, w=where: c.decode(source, columns=None, asset=asset, where=w),
        )
        if value is None:
            continue
        columns = (
            polars_columns(value.schema) if isinstance(value, pl.DataFrame) else json_columns(value)
        )
        return StoredData(
            asset,
            key,
            store.shown(path),
            payload_row_count(value),
            columns,
            store.backend.modified(path),
        )
    what = f"partition {key} of asset {asset}" if key is not None else f"asset {asset}"
    tried = " or ".join(store.shown(paths[kind]) for kind in KINDS)
    raise MissingDataError(f"Nothing stored for {what}: {tried} does not exist.")
