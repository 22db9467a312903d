"""InMemoryIOManager: keeps dicts and frames in the process, for tests.

It follows the filesystem semantics (write modes, partitions, multi-partition loads, columns),
and stores dicts in their JSON-compatible form, so a test sees what a real store returns.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from dagster import AssetKey, InputContext, IOManager, OutputContext

from .core.codecs import to_json_compatible
from .core.context import asset_label, materialize_hint
from .core.errors import MissingDataError, UnsupportedTypeError
from .core.frames import concat_frames, merge_frames, select_columns
from .core.metadata import storage_metadata
from .core.naming import storage_path_parts
from .core.output_metadata import build_output_metadata
from .core.partitions import PartitionSelection, partition_selection, single_partition_key
from .core.payloads import check_dict_write_mode, ensure_loadable, ensure_supported, payload_kind

StorageKey = tuple[tuple[str, ...], str | None]


class InMemoryIOManager(IOManager):
    """Stores dicts and polars DataFrames per (asset path, partition key) in this process.

    A plain ``IOManager`` (not a configurable one), so the instance you pass to
    ``materialize(..., resources={"io_manager": manager})`` is the one that stores the values and
    can be inspected afterwards with :meth:`get`. Values do not cross process boundaries: use it
    with the in-process executor (``materialize`` uses it).
    """

    def __init__(self) -> None:
        self.values: dict[StorageKey, Any] = {}

    def get(self, asset_key: AssetKey | str | list[str], partition_key: str | None = None) -> Any:
        """The stored value of an asset (partition), for assertions in tests."""
        key = (
            AssetKey.from_coercible(asset_key) if not isinstance(asset_key, AssetKey) else asset_key
        )
        return self.values[(tuple(key.path), partition_key)]

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        asset = asset_label(context)
        kind = ensure_supported(
            obj,
            context=context,
            manager="InMemoryIOManager",
            supported=("dict", "frame"),
            fix="Return a dict or a polars.DataFrame.",
        )
        meta = storage_metadata(context)
        selection = partition_selection(context)
        partition_key = single_partition_key(
            context, selection, manager="InMemoryIOManager", unit="value"
        )
        parts = storage_path_parts(context, meta)
        key = (parts, partition_key)
        where = self._uri(parts, selection, partition_key)

        if kind == "dict":
            check_dict_write_mode(meta, asset=asset)
            stored: Any = to_json_compatible(obj, asset=asset)
        else:
            existing = self.values.get(key)
            if not isinstance(existing, pl.DataFrame):
                existing = None
            stored = merge_frames(existing, obj, meta, asset=asset, where=where).clone()
        self.values[key] = stored
        context.add_output_metadata(
            build_output_metadata(
                stored, partitioned=selection is not None, uri=where, write_mode=meta.write_mode
            )
        )

    def load_input(self, context: InputContext) -> Any:
        asset = asset_label(context)
        expected = ensure_loadable(
            context, manager="InMemoryIOManager", supported=("dict", "frame"), fix=""
        )
        meta = storage_metadata(context)
        parts = storage_path_parts(context, meta)
        selection = partition_selection(context)
        keys: list[str | None] = (
            [str(k) for k in selection.keys] if selection is not None else [None]
        )

        loaded: dict[str | None, Any] = {}
        for partition_key in keys:
            key = (parts, partition_key)
            if key not in self.values:
                where = f" partition {partition_key}" if partition_key is not None else ""
                raise MissingDataError(
                    f"No stored value for asset {asset}{where} in this InMemoryIOManager "
                    f"({self._uri(parts, selection, partition_key)}). "
                    f"{materialize_hint(asset, partition_key)} Use the same InMemoryIOManager "
                    "instance for both runs."
                )
            value = self.values[key]
            if expected is not None and payload_kind(value) != expected:
                raise UnsupportedTypeError(
                    f"Cannot load asset {asset} as {expected}: partition {partition_key} holds "
                    f"a {type(value).__name__}."
                )
            if isinstance(value, pl.DataFrame):
                columns = select_columns(value.columns, meta.columns, asset=asset, where=asset)
                value = value.select(columns) if columns is not None else value.clone()
            else:
                value = to_json_compatible(value, asset=asset)  # a fresh copy
            loaded[partition_key] = value

        if selection is None or len(keys) == 1:
            return loaded[keys[0]]
        if not loaded:
            return pl.DataFrame() if expected == "frame" else {}
        kinds = {payload_kind(value) for value in loaded.values()}
        if kinds == {"frame"}:
            return concat_frames({str(k): v for k, v in loaded.items()}, asset=asset)
        if kinds == {"dict"}:
            return {str(k): v for k, v in loaded.items()}
        raise UnsupportedTypeError(
            f"Asset {asset}: the selected partitions mix dicts and DataFrames."
        )

    @staticmethod
    def _uri(
        parts: tuple[str, ...], selection: PartitionSelection | None, partition_key: str | None
    ) -> str:
        segments = ()
        if selection is not None and partition_key is not None:
            segments = selection.path_segments(
                next(k for k in selection.keys if str(k) == partition_key)
            )
        return "memory://" + "/".join((*parts, *segments))
