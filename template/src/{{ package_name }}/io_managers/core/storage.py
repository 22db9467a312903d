"""The storage API every IO manager offers: ``exists``, ``delete`` and ``describe``.

A store finds an asset's data from its key and its storage metadata (``schema``, ``table``,
``partition_expr``, ``graph_rel``) and partitions, which live on the asset's definition. Callers
pass the definition as ``definition=``: the asset itself (``AssetsDefinition`` or ``AssetSpec``)
or the project's ``Definitions``. The asset may also stand in for the key. Without a definition
the asset is taken as unpartitioned, with no storage metadata.

Example::

    manager = DuckDBIOManager(db_path="data/crypto.duckdb")
    manager.exists("market/ohlcv", "2024-01-02", definition=defs)  # True
    manager.describe(ohlcv, "2024-01-02").row_count  # the asset stands in for the key
    manager.delete("market/ohlcv", "2024-01-02", definition=defs)  # that day only
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    OutputContext,
    PartitionsDefinition,
    build_output_context,
)

from .errors import MetadataError

#: What names an asset: its key (``"market/ohlcv"``, ``["market", "ohlcv"]``, ``AssetKey``) or
#: its definition.
AssetRef = AssetKey | str | Sequence[str] | AssetsDefinition | AssetSpec
#: Where the storage metadata and partitions of an asset are read from.
Definition = AssetsDefinition | AssetSpec | Definitions


@dataclass(frozen=True)
class StoredData:
    """What a store holds for one asset (partition), the same fields on every store.

    ``location`` is the table (``catalog.schema.table``, ``graph.Label``) or the URI of the
    file or object; ``columns`` maps each column to its polars dtype (for JSON payloads: each
    top-level key to its JSON type); ``last_write`` is the time (UTC) the store records for the
    last write: a file's or object's modification time, ``None`` for table stores (databases
    keep no write time per table; Dagster's event log has each materialization's).

    Example::

        info = manager.describe("market/ohlcv", "2024-01-02", definition=defs)
        info.row_count, info.columns["close"], info.location  # 24, "Float64", "crypto.market.ohlcv"
    """

    asset: str
    partition_key: str | None
    location: str
    row_count: int
    columns: dict[str, str] = field(default_factory=dict)
    last_write: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``last_write`` in ISO 8601)."""
        return {
            "asset": self.asset,
            "partition_key": self.partition_key,
            "location": self.location,
            "row_count": self.row_count,
            "columns": dict(self.columns),
            "last_write": self.last_write.isoformat() if self.last_write else None,
        }


def polars_columns(schema: Mapping[str, pl.DataType]) -> dict[str, str]:
    """Column -> dtype name, as :class:`StoredData` reports them."""
    return {name: str(dtype) for name, dtype in schema.items()}


def json_columns(payload: Mapping[str, Any]) -> dict[str, str]:
    """Top-level key -> JSON type of a dict payload."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}

    def kind(value: Any) -> str:
        return next((n for t, n in names.items() if isinstance(value, t)), "number")

    return {str(key): kind(value) for key, value in payload.items()}


def asset_key_of(asset: AssetRef) -> AssetKey:
    """The key of an asset named by key, path or definition."""
    if isinstance(asset, AssetsDefinition):
        if len(asset.keys) != 1:
            raise MetadataError(
                f"{asset.node_def.name} defines {len(asset.keys)} assets; name one by its key "
                "and pass the definition as definition=."
            )
        return asset.key
    if isinstance(asset, AssetSpec):
        return asset.key
    if isinstance(asset, AssetKey):
        return asset
    if isinstance(asset, str):
        return AssetKey.from_user_string(asset)
    return AssetKey(list(asset))


def _from_definition(
    key: AssetKey, definition: Definition
) -> tuple[Mapping[str, Any], PartitionsDefinition | None]:
    if isinstance(definition, Definitions):
        graph = definition.resolve_asset_graph()
        if not graph.has(key):
            known = ", ".join(sorted(k.to_user_string() for k in graph.get_all_asset_keys()))
            raise MetadataError(
                f"No asset {key.to_user_string()} in these Definitions. Known assets: {known}."
            )
        node = graph.get(key)
        return node.metadata, node.partitions_def
    if isinstance(definition, AssetSpec):
        if definition.key != key:
            raise MetadataError(
                f"definition= is asset {definition.key.to_user_string()}, not "
                f"{key.to_user_string()}."
            )
        return definition.metadata, definition.partitions_def
    if key not in definition.specs_by_key:
        raise MetadataError(
            f"definition= does not define asset {key.to_user_string()} (it defines "
            f"{', '.join(k.to_user_string() for k in definition.keys)})."
        )
    return definition.specs_by_key[key].metadata, definition.partitions_def


def _described(
    asset: AssetRef, definition: Definition | None
) -> tuple[AssetKey, Mapping[str, Any], PartitionsDefinition | None]:
    """The asset's key, definition metadata and partitions; an asset definition describes
    itself when no other definition is given."""
    key = asset_key_of(asset)
    if definition is None and isinstance(asset, AssetsDefinition | AssetSpec):
        definition = asset
    if definition is None:
        return key, {}, None
    metadata, partitions_def = _from_definition(key, definition)
    return key, metadata, partitions_def


def storage_context(
    asset: AssetRef, partition_key: str | None, definition: Definition | None
) -> OutputContext:
    """The output context a write of this asset (partition) would have, for the store's lookup.

    Raises :class:`MetadataError` when the partition key does not fit the asset: a partitioned
    asset needs one (a delete or describe of every partition at once is not offered), an
    unpartitioned asset takes none, and the key must be one of the asset's partitions.
    """
    key, metadata, partitions_def = _described(asset, definition)
    label = key.to_user_string()
    if partition_key is None and partitions_def is not None:
        example = next(iter(partitions_def.get_partition_keys()), "<key>")
        raise MetadataError(
            f"Asset {label} is partitioned: name one partition, e.g. partition_key={example!r} "
            f"(--partition {example} on the command line)."
        )
    if partition_key is not None and partitions_def is None:
        raise MetadataError(
            f"Asset {label} is not partitioned here, so partition {partition_key!r} does not "
            "apply: drop the partition key, or pass the asset's definition (definition=<the "
            "asset or Definitions>) so its partitions are known."
        )
    if (
        partition_key is not None
        and partitions_def is not None
        and not partitions_def.has_partition_key(partition_key)
    ):
        raise MetadataError(
            f"Asset {label} has no partition {partition_key!r}; its partitions are "
            f"{partitions_def.get_first_partition_key()} .. "
            f"{partitions_def.get_last_partition_key()}."
        )
    return build_output_context(
        asset_key=key,
        partition_key=partition_key,
        asset_partitions_def=partitions_def,
        definition_metadata=dict(metadata),
    )


def whole_asset_context(asset: AssetRef, definition: Definition | None) -> OutputContext:
    """An output context of the asset as a whole (no partition), to find where it is stored."""
    key, metadata, _ = _described(asset, definition)
    return build_output_context(asset_key=key, definition_metadata=dict(metadata))


class StorageAPI:
    """``exists``, ``delete`` and ``describe`` on top of three hooks each store implements.

    Semantics, the same on every store (docs/io-managers.md, "Storage API"):

    - ``exists``: the asset (partition) holds data: a table (with rows in the slice, for a
      partition), a file or object;
    - ``delete``: removes the partition's rows (one transaction) or file, or the whole
      unpartitioned asset (its table or file); deleting what is not there is a no-op, so a
      delete can be repeated;
    - ``describe``: :class:`StoredData`; raises :class:`MissingDataError` if nothing is stored.

    Example::

        class MyIOManager(StorageAPI, ConfigurableIOManager):
            def _exists(self, context: OutputContext) -> bool: ...
            def _delete(self, context: OutputContext) -> None: ...
            def _describe(self, context: OutputContext) -> StoredData: ...
    """

    def exists(
        self,
        asset_key: AssetRef,
        partition_key: str | None = None,
        *,
        definition: Definition | None = None,
    ) -> bool:
        """Whether the store holds the asset (partition)."""
        return self._exists(storage_context(asset_key, partition_key, definition))

    def delete(
        self,
        asset_key: AssetRef,
        partition_key: str | None = None,
        *,
        definition: Definition | None = None,
    ) -> None:
        """Remove the partition (only that one), or the whole unpartitioned asset."""
        self._delete(storage_context(asset_key, partition_key, definition))

    def describe(
        self,
        asset_key: AssetRef,
        partition_key: str | None = None,
        *,
        definition: Definition | None = None,
    ) -> StoredData:
        """Rows, columns, location and last write of the stored asset (partition)."""
        return self._describe(storage_context(asset_key, partition_key, definition))

    def _exists(self, context: OutputContext) -> bool:
        raise NotImplementedError

    def _delete(self, context: OutputContext) -> None:
        raise NotImplementedError

    def _describe(self, context: OutputContext) -> StoredData:
        raise NotImplementedError
