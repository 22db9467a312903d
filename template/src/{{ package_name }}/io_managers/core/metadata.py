"""The storage vocabulary of asset metadata, parsed and validated once."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dagster import (
    InputContext,
    MetadataValue,
)

from .context import ContextT, asset_label, output_context_of
from .errors import MetadataError

WriteMode = Literal["overwrite", "append", "upsert"]
WRITE_MODES: tuple[WriteMode, ...] = ("overwrite", "append", "upsert")

# The metadata vocabulary: one set of keys for every IO manager (see docs/io-managers.md).
METADATA_KEYS = ("schema", "table", "partition_expr", "write_mode", "primary_key", "columns")


@dataclass(frozen=True)
class StorageMetadata:
    """The storage vocabulary of one asset output (and, for ``columns``, of one input).

    ``schema``, ``table``, ``partition_expr``, ``write_mode`` and ``primary_key`` come from the
    definition metadata of the output (the upstream asset when loading); ``columns`` comes from
    the input's own metadata (``AssetIn(metadata={"columns": [...]})``).

    Example::

        meta = StorageMetadata.parse(
            {"partition_expr": "ts", "write_mode": "upsert", "primary_key": ["symbol", "ts"]},
            asset="market/ohlcv",
            input_metadata={"columns": ["ts", "close"]},
        )
        meta.primary_key, meta.columns  # ("symbol", "ts"), ("ts", "close")
    """

    schema: str | None = None
    table: str | None = None
    partition_expr: str | Mapping[str, str] | None = None
    write_mode: WriteMode = "overwrite"
    primary_key: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None

    @classmethod
    def parse(
        cls,
        output_metadata: Mapping[str, Any] | None,
        *,
        asset: str,
        input_metadata: Mapping[str, Any] | None = None,
        aliases: Mapping[str, str] | None = None,
        default_write_mode: WriteMode = "overwrite",
    ) -> StorageMetadata:
        """Parse and validate the vocabulary; raise :class:`MetadataError` naming the asset.

        ``aliases`` maps other names of the keys (a backend's own vocabulary, e.g.
        ``{"iceberg_table": "table"}``) to the shared ones; ``default_write_mode`` applies when
        the metadata names none.
        """
        output_metadata = resolve_aliases(output_metadata or {}, aliases, asset=asset)
        input_metadata = resolve_aliases(input_metadata or {}, aliases, asset=asset)
        schema = _optional_str(output_metadata, "schema", asset)
        table = _optional_str(output_metadata, "table", asset)

        partition_expr = _raw(output_metadata.get("partition_expr"))
        if partition_expr is not None and not (
            (isinstance(partition_expr, str) and partition_expr)
            or (
                isinstance(partition_expr, Mapping)
                and partition_expr
                and all(
                    isinstance(k, str) and isinstance(v, str) and v
                    for k, v in partition_expr.items()
                )
            )
        ):
            raise MetadataError(
                f"Asset {asset}: metadata 'partition_expr' must be a column name or SQL "
                "expression (a non-empty string), or a dict of partition dimension -> column "
                f"or expression; got {partition_expr!r}."
            )

        write_mode = _raw(output_metadata.get("write_mode", default_write_mode))
        if write_mode not in WRITE_MODES:
            raise MetadataError(
                f"Asset {asset}: metadata 'write_mode' must be one of {', '.join(WRITE_MODES)}; "
                f"got {write_mode!r}."
            )

        primary_key = _column_list(output_metadata, "primary_key", asset) or ()
        if write_mode == "upsert" and not primary_key:
            raise MetadataError(
                f"Asset {asset}: write_mode 'upsert' needs the key columns; add "
                'metadata={"write_mode": "upsert", "primary_key": ["col", ...]}.'
            )

        return cls(
            schema=schema,
            table=table,
            partition_expr=dict(partition_expr)
            if isinstance(partition_expr, Mapping)
            else partition_expr,
            write_mode=typing.cast(WriteMode, write_mode),
            primary_key=primary_key,
            columns=_column_list(input_metadata, "columns", asset),
        )


def resolve_aliases(
    metadata: Mapping[str, Any], aliases: Mapping[str, str] | None, *, asset: str
) -> Mapping[str, Any]:
    """``metadata`` with each alias renamed to its shared key; both given is an error."""
    if not aliases:
        return metadata
    resolved = dict(metadata)
    for alias, key in aliases.items():
        if alias not in metadata:
            continue
        if key in metadata:
            raise MetadataError(
                f"Asset {asset}: metadata sets both {key!r} and its alias {alias!r}; keep one."
            )
        resolved[key] = resolved.pop(alias)
    return resolved


def _raw(value: Any) -> Any:
    """Unwrap a MetadataValue (users may pass MetadataValue.text(...) etc.) to its plain value."""
    return value.value if isinstance(value, MetadataValue) else value


def _optional_str(metadata: Mapping[str, Any], key: str, asset: str) -> str | None:
    value = _raw(metadata.get(key))
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MetadataError(f"Asset {asset}: metadata {key!r} must be a non-empty string.")
    return value


def _column_list(metadata: Mapping[str, Any], key: str, asset: str) -> tuple[str, ...] | None:
    value = _raw(metadata.get(key))
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(c, str) and c for c in value)
    ):
        raise MetadataError(
            f"Asset {asset}: metadata {key!r} must be a column name or a non-empty list of "
            f"column names; got {value!r}."
        )
    if len(set(value)) != len(value):
        raise MetadataError(f"Asset {asset}: metadata {key!r} lists a column twice: {value!r}.")
    return tuple(value)


def storage_metadata(
    context: ContextT,
    *,
    aliases: Mapping[str, str] | None = None,
    default_write_mode: WriteMode = "overwrite",
) -> StorageMetadata:
    """The parsed vocabulary for an output, or for an input (upstream output + ``columns``).

    ``aliases`` and ``default_write_mode``: see :meth:`StorageMetadata.parse`.
    """
    output = output_context_of(context)
    output_metadata = (output.definition_metadata if output is not None else None) or {}
    input_metadata = (
        (context.definition_metadata or {}) if isinstance(context, InputContext) else None
    )
    return StorageMetadata.parse(
        output_metadata,
        asset=asset_label(context),
        input_metadata=input_metadata,
        aliases=aliases,
        default_write_mode=default_write_mode,
    )
