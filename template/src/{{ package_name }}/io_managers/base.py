"""Semantics shared by every IO manager of the project, written once.

Each backend module (filesystem, memory, duckdb, and later s3, sql, kuzu) calls into this module
for everything that must behave the same on every backend:

- the metadata vocabulary (``schema``, ``table``, ``partition_expr``, ``write_mode``,
  ``primary_key``, ``columns``), parsed and validated into :class:`StorageMetadata`;
- naming: asset key -> path parts (:func:`storage_path_parts`) or table (:func:`resolve_table`),
  with the schema precedence of Dagster's ``DbIOManager``;
- partitions: the partition keys and time windows of an output or input
  (:func:`partition_selection`), hive-style path segments, and table-slice filters with bound
  parameters (:func:`table_filters`, :func:`build_where_clause`);
- safety: path segments and SQL identifiers are validated (:func:`validate_path_segment`,
  :func:`quote_identifier`);
- frames: write modes (:func:`merge_frames`), column selection, dtype preservation;
- JSON encoding of dict payloads (:func:`encode_json`);
- the metadata each output reports (:func:`build_output_metadata`);
- type checks with errors that name the asset, the type and the fix;
- retrying a connection while another process holds a database lock (:func:`retry_while_locked`).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import math
import re
import time
import typing
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple, TypeVar

import polars as pl
from dagster import (
    InputContext,
    MetadataValue,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    OutputContext,
    TableColumn,
    TableSchema,
    TimeWindowPartitionsDefinition,
)

T = TypeVar("T")

WriteMode = Literal["overwrite", "append", "upsert"]
WRITE_MODES: tuple[WriteMode, ...] = ("overwrite", "append", "upsert")

# The metadata vocabulary: one set of keys for every IO manager (see docs/io-managers.md).
METADATA_KEYS = ("schema", "table", "partition_expr", "write_mode", "primary_key", "columns")

# SQL identifiers we put into statements: letters, digits, underscore, not starting with a digit,
# at most 63 characters (PostgreSQL's limit, the strictest of our backends).
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
IDENTIFIER_RULE = (
    "letters, digits and underscores only, not starting with a digit, at most 63 characters"
)

# Hive-style name of the path segment of a single-dimension partition.
TIME_PARTITION_SEGMENT = "date"
STATIC_PARTITION_SEGMENT = "partition"

PREVIEW_ROWS = 5
_PREVIEW_CELL_CHARS = 40
_PREVIEW_JSON_CHARS = 2000
_PREVIEW_NESTED_ITEMS = 20

ContextT = InputContext | OutputContext


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class IOManagerError(Exception):
    """Base class of the errors raised by the project's IO managers."""


class MetadataError(IOManagerError, ValueError):
    """Asset metadata of the storage vocabulary is missing or invalid."""


class UnsafeNameError(IOManagerError, ValueError):
    """A name (identifier, path segment, partition key) would be unsafe to use."""


class UnsupportedTypeError(IOManagerError, TypeError):
    """The IO manager cannot store or load an object of this type."""


class MissingDataError(IOManagerError, FileNotFoundError):
    """The stored object, file or table to load does not exist."""


class SchemaDriftError(IOManagerError, ValueError):
    """The columns or dtypes of a frame do not match what is already stored."""


class PartitionMismatchError(IOManagerError, ValueError):
    """A frame holds rows outside the partition(s) being written."""


class StorageLockedError(IOManagerError, TimeoutError):
    """Another process held the storage lock for longer than the configured timeout."""


# --------------------------------------------------------------------------------------------
# Metadata vocabulary
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageMetadata:
    """The storage vocabulary of one asset output (and, for ``columns``, of one input).

    ``schema``, ``table``, ``partition_expr``, ``write_mode`` and ``primary_key`` come from the
    definition metadata of the output (the upstream asset when loading); ``columns`` comes from
    the input's own metadata (``AssetIn(metadata={"columns": [...]})``).
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
    ) -> StorageMetadata:
        """Parse and validate the vocabulary; raise :class:`MetadataError` naming the asset."""
        output_metadata = output_metadata or {}
        input_metadata = input_metadata or {}
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
                f"Asset {asset}: metadata 'partition_expr' must be a column name, or a dict of "
                f"partition dimension -> column name; got {partition_expr!r}."
            )

        write_mode = _raw(output_metadata.get("write_mode", "overwrite"))
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


def output_context_of(context: ContextT) -> OutputContext | None:
    """The output that produced the data: the context itself, or the upstream output."""
    if isinstance(context, OutputContext):
        return context
    return context.upstream_output


def storage_metadata(context: ContextT) -> StorageMetadata:
    """The parsed vocabulary for an output, or for an input (upstream output + ``columns``)."""
    output = output_context_of(context)
    output_metadata = (output.definition_metadata if output is not None else None) or {}
    input_metadata = (
        (context.definition_metadata or {}) if isinstance(context, InputContext) else None
    )
    return StorageMetadata.parse(
        output_metadata, asset=asset_label(context), input_metadata=input_metadata
    )


# --------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------


def asset_label(context: ContextT) -> str:
    """A readable name of what is stored, for messages: 'raw/binance_ohlcv' or 'step.output'."""
    if context.has_asset_key:
        return context.asset_key.to_user_string()
    output = output_context_of(context)
    if output is not None and output.step_key:
        return f"{output.step_key}.{output.name}"
    return context.name or "<unnamed output>"


def materialize_hint(asset: str, partition_key: str | None = None) -> str:
    """How to produce missing upstream data, for 'not found' errors."""
    partition = f" --partition {partition_key}" if partition_key is not None else ""
    return (
        f"Materialize the upstream first, e.g. `dagster asset materialize --select {asset}"
        f"{partition}` or the UI."
    )


def validate_path_segment(segment: str, what: str) -> str:
    """Refuse a path segment that could escape its directory or is not a plain name."""
    problem = None
    if not isinstance(segment, str) or not segment:
        problem = "it is empty"
    elif segment in {".", ".."}:
        problem = "it is a relative directory reference"
    elif "/" in segment or "\\" in segment:
        problem = "it contains a path separator"
    elif "\x00" in segment:
        problem = "it contains a NUL character"
    elif any(ord(char) < 32 for char in segment):
        problem = "it contains a control character"
    if problem:
        raise UnsafeNameError(
            f"Refusing {what} {segment!r} as a path segment: {problem}. Use a plain name "
            "without '/', '\\', NUL or control characters that is not '.' or '..'."
        )
    return segment


def validate_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` if it is a safe SQL identifier, else raise :class:`UnsafeNameError`."""
    if not isinstance(name, str) or not IDENTIFIER_PATTERN.fullmatch(name):
        raise UnsafeNameError(
            f"Refusing {what} {name!r}: SQL identifiers must match "
            f"{IDENTIFIER_PATTERN.pattern} ({IDENTIFIER_RULE}). Rename it, or set "
            'metadata={"table": "..."} / {"schema": "..."} to a valid name.'
        )
    return name


def quote_identifier(name: str, what: str = "identifier") -> str:
    """Validate ``name`` and quote it for SQL (double quotes, embedded quotes doubled)."""
    validate_identifier(name, what)
    # The regex already excludes quotes; doubling them keeps the function safe on its own.
    return '"' + name.replace('"', '""') + '"'


class TableName(NamedTuple):
    """A validated (schema, table) pair."""

    schema: str
    table: str

    @property
    def quoted(self) -> str:
        """``"schema"."table"`` for SQL statements."""
        return f"{quote_identifier(self.schema, 'schema')}.{quote_identifier(self.table, 'table')}"

    def display(self, catalog: str | None = None) -> str:
        """``[catalog.]schema.table`` for messages and ``dagster/table_name``."""
        return ".".join(p for p in (catalog, self.schema, self.table) if p)


def resolve_table(
    context: ContextT,
    *,
    config_schema: str | None,
    default_schema: str,
    meta: StorageMetadata | None = None,
) -> TableName:
    """Schema and table of an output, with the precedence of Dagster's ``DbIOManager``.

    Schema: asset metadata ``schema``, then the IO manager's ``schema`` config, then the asset key
    prefix (``path[-2]``), then ``default_schema``. Table: metadata ``table``, else the last part of
    the asset key (op outputs: the output name). Both are validated as identifiers.
    """
    meta = meta or storage_metadata(context)
    if context.has_asset_key:
        path = context.asset_key.path
        prefix_schema = path[-2] if len(path) > 1 else None
        table = meta.table or path[-1]
    else:
        output = output_context_of(context)
        prefix_schema = None
        table = meta.table or (output.name if output is not None else context.name)
    schema = meta.schema or config_schema or prefix_schema or default_schema
    return TableName(
        validate_identifier(schema, f"schema name of asset {asset_label(context)}"),
        validate_identifier(table, f"table name of asset {asset_label(context)}"),
    )


def storage_path_parts(context: ContextT, meta: StorageMetadata | None = None) -> tuple[str, ...]:
    """Relative path parts of an output: the asset key, its last part replaced by ``table``.

    Op outputs (no asset key) use ``(run_id, step_key, output_name)`` like Dagster's own managers.
    """
    meta = meta or storage_metadata(context)
    if context.has_asset_key:
        parts = list(context.asset_key.path)
        if meta.table:
            parts[-1] = meta.table
    else:
        output = output_context_of(context)
        parts = list((output or context).get_identifier())
    return tuple(validate_path_segment(p, f"path part of {asset_label(context)}") for p in parts)


# --------------------------------------------------------------------------------------------
# Partitions
# --------------------------------------------------------------------------------------------


class TimeWindow(NamedTuple):
    """A half-open time interval ``[start, end)`` with timezone-aware bounds."""

    start: dt.datetime
    end: dt.datetime


def merge_windows(windows: Iterable[TimeWindow]) -> tuple[TimeWindow, ...]:
    """Union of windows: sorted, with overlapping or touching windows merged."""
    merged: list[TimeWindow] = []
    for window in sorted(windows):
        if merged and window.start <= merged[-1].end:
            merged[-1] = TimeWindow(merged[-1].start, max(merged[-1].end, window.end))
        else:
            merged.append(window)
    return tuple(merged)


@dataclass(frozen=True)
class PartitionDimension:
    """One partition dimension of a selection.

    ``windows`` is set for time dimensions (the union of the selected partitions' windows),
    ``None`` for static or dynamic dimensions, which are filtered by ``keys``.
    """

    name: str
    keys: tuple[str, ...]
    windows: tuple[TimeWindow, ...] | None


@dataclass(frozen=True)
class PartitionSelection:
    """The partitions an output writes or an input reads."""

    keys: tuple[str, ...]
    dimensions: tuple[PartitionDimension, ...]
    multi: bool

    def path_segments(self, key: str) -> tuple[str, ...]:
        """Hive-style path segments of one partition key, e.g. ``("date=2024-01-02",)``.

        Multi-dimensional keys give one ``<dimension>=<key>`` segment per dimension, sorted by
        dimension name. Every key is validated so it cannot escape the asset's directory.
        """
        if self.multi:
            if not isinstance(key, MultiPartitionKey):
                raise UnsafeNameError(f"Expected a multi-dimensional partition key, got {key!r}.")
            items = sorted(key.keys_by_dimension.items())
        else:
            items = [(self.dimensions[0].name, key)]
        return tuple(
            f"{validate_path_segment(name, 'partition dimension')}={validate_partition_key(value)}"
            for name, value in items
        )


def validate_partition_key(key: str) -> str:
    """Refuse partition keys that could escape a directory (``..``, absolute paths, ``/``, NUL)."""
    return validate_path_segment(key, "partition key")


def partition_selection(context: ContextT) -> PartitionSelection | None:
    """The partition keys (and time windows) of an output or input; ``None`` if unpartitioned."""
    if not context.has_asset_key or not context.has_asset_partitions:
        return None
    partitions_def = context.asset_partitions_def
    # Keys are validated as path segments by path_segments(); table backends bind them as values.
    keys = tuple(context.asset_partition_keys)

    if isinstance(partitions_def, MultiPartitionsDefinition):
        multi_keys = [
            key
            if isinstance(key, MultiPartitionKey)
            else partitions_def.get_partition_key_from_str(key)
            for key in keys
        ]
        dimensions = []
        for dimension in partitions_def.partitions_defs:
            dim_keys = tuple(dict.fromkeys(k.keys_by_dimension[dimension.name] for k in multi_keys))
            dimensions.append(_dimension(dimension.name, dim_keys, dimension.partitions_def))
        return PartitionSelection(tuple(multi_keys), tuple(dimensions), multi=True)

    name = (
        TIME_PARTITION_SEGMENT
        if isinstance(partitions_def, TimeWindowPartitionsDefinition)
        else STATIC_PARTITION_SEGMENT
    )
    return PartitionSelection(keys, (_dimension(name, keys, partitions_def),), multi=False)


def single_partition_key(
    context: OutputContext, selection: PartitionSelection | None, *, manager: str, unit: str
) -> str | None:
    """The one partition an output writes, for stores that keep one ``unit`` per partition.

    ``None`` for an unpartitioned output; an output covering several partitions (a
    single-run backfill) is refused, since it cannot become one file or object.
    """
    if selection is None:
        return None
    if len(selection.keys) != 1:
        raise IOManagerError(
            f"{manager} stores one {unit} per partition, but this output of asset "
            f"{asset_label(context)} covers {len(selection.keys)} partitions "
            f"({selection.keys[0]} ... {selection.keys[-1]}). Run one partition per run "
            "(BackfillPolicy.multi_run(1), the default) or use a table IO manager."
        )
    return selection.keys[0]


def _dimension(name: str, keys: tuple[str, ...], partitions_def: Any) -> PartitionDimension:
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        windows = merge_windows(
            TimeWindow(*partitions_def.time_window_for_partition_key(key)) for key in keys
        )
        return PartitionDimension(name, keys, windows)
    return PartitionDimension(name, keys, None)


class ColumnFilter(NamedTuple):
    """Rows of one partition dimension: ``column`` inside one of ``windows`` or in ``values``."""

    column: str
    dimension: str
    windows: tuple[TimeWindow, ...] | None
    values: tuple[str, ...] | None


def missing_partition_expr_message(asset: str, selection: PartitionSelection) -> str:
    if selection.multi:
        example = ", ".join(f'"{d.name}": "<column>"' for d in selection.dimensions)
        example = "{" + example + "}"
    else:
        example = '"<timestamp column>"'
    return (
        f"Asset {asset} is partitioned, so a table backend needs to know which column holds "
        f'the partition. Add it to the asset\'s metadata: @asset(..., metadata={{"partition_expr": '
        f"{example}}})."
    )


def table_filters(
    selection: PartitionSelection, meta: StorageMetadata, *, asset: str
) -> tuple[ColumnFilter, ...]:
    """The column filters selecting exactly the partitions of ``selection``."""
    expr = meta.partition_expr
    if expr is None:
        raise MetadataError(missing_partition_expr_message(asset, selection))
    if selection.multi:
        if not isinstance(expr, Mapping):
            raise MetadataError(
                f"Asset {asset} has multi-dimensional partitions; 'partition_expr' must be a dict "
                f"of dimension -> column. {missing_partition_expr_message(asset, selection)}"
            )
        missing = [d.name for d in selection.dimensions if d.name not in expr]
        if missing:
            raise MetadataError(
                f"Asset {asset}: 'partition_expr' has no column for dimension(s) "
                f"{', '.join(missing)}. {missing_partition_expr_message(asset, selection)}"
            )
        columns = {d.name: expr[d.name] for d in selection.dimensions}
    else:
        if not isinstance(expr, str):
            raise MetadataError(
                f"Asset {asset} has one partition dimension; 'partition_expr' must be the name "
                f"of one column, got {expr!r}."
            )
        columns = {selection.dimensions[0].name: expr}
    filters = []
    for dimension in selection.dimensions:
        column = validate_identifier(columns[dimension.name], f"partition_expr column of {asset}")
        if dimension.windows is not None:
            filters.append(ColumnFilter(column, dimension.name, dimension.windows, None))
        else:
            filters.append(ColumnFilter(column, dimension.name, None, dimension.keys))
    return tuple(filters)


TemporalKind = Literal["date", "timestamp", "timestamptz"]


def window_bounds(window: TimeWindow, kind: TemporalKind) -> tuple[Any, Any]:
    """Python values to bind for a window against a DATE, TIMESTAMP or TIMESTAMPTZ column.

    Naive timestamps are taken as UTC; dates use the calendar date of the partition's own
    timezone.
    """
    if kind == "date":
        return window.start.date(), window.end.date()
    start = window.start.astimezone(dt.UTC)
    end = window.end.astimezone(dt.UTC)
    if kind == "timestamp":
        return start.replace(tzinfo=None), end.replace(tzinfo=None)
    return start, end


def build_where_clause(
    filters: Sequence[ColumnFilter],
    *,
    temporal_kind: Callable[[str], TemporalKind] = lambda _column: "timestamptz",
    placeholder: Callable[[int], str] = lambda _index: "?",
    quote: Callable[[str], str] = quote_identifier,
) -> tuple[str, list[Any]]:
    """A WHERE condition (without ``WHERE``) and its parameters for the given filters.

    Identifiers go through ``quote``; values are always bound parameters. ``placeholder(i)``
    gives the i-th parameter marker of the driver (``?``, ``%s``, ``$1`` ...).
    """
    params: list[Any] = []

    def marker(value: Any) -> str:
        params.append(value)
        return placeholder(len(params) - 1)

    clauses = []
    for column_filter in filters:
        column = quote(column_filter.column)
        if column_filter.windows is not None:
            kind = temporal_kind(column_filter.column)
            parts = []
            for window in column_filter.windows:
                start, end = window_bounds(window, kind)
                parts.append(f"({column} >= {marker(start)} AND {column} < {marker(end)})")
            clauses.append("(" + " OR ".join(parts) + ")" if parts else "FALSE")
        else:
            values = column_filter.values or ()
            markers = ", ".join(marker(value) for value in values)
            clauses.append(f"{column} IN ({markers})" if values else "FALSE")
    return (" AND ".join(clauses) or "TRUE"), params


def check_frame_in_selection(
    frame: pl.DataFrame, filters: Sequence[ColumnFilter], *, asset: str
) -> None:
    """Refuse rows outside the written partitions: they would corrupt neighbouring partitions."""
    for column_filter in filters:
        column = column_filter.column
        if column not in frame.columns:
            raise MetadataError(
                f"Asset {asset}: 'partition_expr' names column {column!r}, which the frame does "
                f"not have (columns: {', '.join(frame.columns)})."
            )
        series = frame.get_column(column)
        if column_filter.windows is not None:
            inside = _in_windows_expr(series.dtype, column, column_filter.windows, asset)
        else:
            inside = pl.col(column).cast(pl.String).is_in(list(column_filter.values or ()))
        outside = frame.filter(~inside.fill_null(False))
        if outside.height:
            allowed = (
                ", ".join(f"[{w.start.isoformat()}, {w.end.isoformat()})" for w in filter_windows)
                if (filter_windows := column_filter.windows) is not None
                else ", ".join(column_filter.values or ())
            )
            raise PartitionMismatchError(
                f"Asset {asset}: {outside.height} of {frame.height} rows have {column!r} outside "
                f"the partition(s) being written ({allowed}); first offending value: "
                f"{outside.get_column(column)[0]}. A partition write replaces exactly its own "
                "slice, so filter the frame to the partition before returning it."
            )


def _in_windows_expr(
    dtype: pl.DataType, column: str, windows: Sequence[TimeWindow], asset: str
) -> pl.Expr:
    if dtype == pl.Date:
        kind: TemporalKind = "date"
        col = pl.col(column)
    elif isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            kind, col = "timestamp", pl.col(column)
        else:
            kind, col = "timestamptz", pl.col(column).dt.convert_time_zone("UTC")
    else:
        raise MetadataError(
            f"Asset {asset}: the partition_expr column {column!r} has dtype {dtype}; a time "
            "partition needs a Date or Datetime column."
        )
    condition = pl.lit(False)
    for window in windows:
        start, end = window_bounds(window, kind)
        condition = condition | ((col >= pl.lit(start)) & (col < pl.lit(end)))
    return condition


# --------------------------------------------------------------------------------------------
# Type checks
# --------------------------------------------------------------------------------------------

PayloadKind = Literal["dict", "frame"]


def payload_kind(obj: Any) -> PayloadKind | None:
    if isinstance(obj, pl.DataFrame):
        return "frame"
    if isinstance(obj, dict):
        return "dict"
    return None


_KIND_NAMES = {"dict": "dict", "frame": "polars.DataFrame"}

# polars dtypes a backend cannot store and give back exactly, with the fix to suggest; refused
# before anything is written (at any nesting depth), instead of failing half-way or returning
# something else. The full support matrix is in docs/reliability.md.
_UNSTORABLE_DTYPES: dict[str, dict[type[pl.DataType], str]] = {
    "DuckDBIOManager": {
        # DuckDB stores Duration as INTERVAL, which polars cannot read back.
        pl.Duration: "cast it to Int64 (e.g. pl.col(...).dt.total_microseconds())",
        pl.Int128: "cast it to Int64, or to pl.Decimal(38, 0)",
        pl.UInt128: "cast it to UInt64, or to pl.Decimal(38, 0)",
        pl.Float16: "cast it to Float32",
    },
    "KuzuDBIOManager": {
        pl.Time: "cast it to Int64 (e.g. pl.col(...).cast(pl.Duration).dt.total_microseconds())",
        pl.Int128: "cast it to Int64, or to pl.Decimal(38, 0)",
        pl.UInt128: "cast it to UInt64, or to pl.Decimal(38, 0)",
        pl.Float16: "cast it to Float32",
    },
}


# Refused inside List, Array or Struct only: DuckDB 2.0 fails on nested dictionary-encoded
# values, in one case with a fatal error that invalidates the open database.
_UNSTORABLE_NESTED_DTYPES: dict[str, dict[type[pl.DataType], str]] = {
    "DuckDBIOManager": {
        pl.Categorical: "cast the nested values to String (e.g. pl.List(pl.String))",
        pl.Enum: "cast the nested values to String (e.g. pl.List(pl.String))",
    },
}


def _nested_dtypes(dtype: pl.DataType, path: str) -> Iterable[tuple[str, pl.DataType]]:
    yield path, dtype
    if isinstance(dtype, pl.List | pl.Array):
        yield from _nested_dtypes(dtype.inner, f"{path}[]")
    elif isinstance(dtype, pl.Struct):
        for field in dtype.fields:
            yield from _nested_dtypes(field.dtype, f"{path}.{field.name}")


def check_storable_frame(frame: pl.DataFrame, *, manager: str, asset: str) -> None:
    """Refuse dtypes and values ``manager`` would store wrongly, naming the column and the fix."""
    refused = _UNSTORABLE_DTYPES.get(manager, {})
    refused_nested = {**refused, **_UNSTORABLE_NESTED_DTYPES.get(manager, {})}
    for name, dtype in frame.schema.items():
        for path, inner in _nested_dtypes(dtype, name):
            kinds = refused if path == name else refused_nested
            fix = next((fix for kind, fix in kinds.items() if isinstance(inner, kind)), None)
            if fix is not None:
                raise UnsupportedTypeError(
                    f"{manager} cannot store column {path!r} of asset {asset}: polars dtype "
                    f"{inner} is not stored exactly by this backend. Before returning the frame, "
                    f"{fix}; or store it with FilesystemIOManager or S3IOManager (Parquet)."
                )
    if manager == "KuzuDBIOManager":
        _check_kuzu_values(frame, asset=asset)


def _check_kuzu_values(frame: pl.DataFrame, *, asset: str) -> None:
    """Values Kuzu 0.11.3 changes silently on a bulk load (checked on this version)."""
    for name, dtype in frame.schema.items():
        column = frame.get_column(name)
        problem = fix = None
        if dtype in (pl.Float32, pl.Float64) and column.is_nan().any():
            # A float column with NaN and nulls comes back with later values turned into NaN.
            problem, fix = "NaN", "replace NaN with null first: pl.col(...).fill_nan(None)"
        elif dtype in (pl.Int8, pl.Int16, pl.Int64) and column.min() == _INT_MINIMUMS[dtype]:
            # The minimum of INT8, INT16 and INT64 is loaded as 0.
            problem = f"the value {_INT_MINIMUMS[dtype]} (the minimum of {dtype})"
            fix = "cast the column to a wider type (e.g. pl.Decimal(38, 0))"
        elif isinstance(dtype, pl.Decimal) and (dtype.precision or 38) <= 18 and (column < 0).any():
            # Negative decimals of precision <= 18 are loaded as large positive numbers.
            problem = f"negative values in {dtype}"
            fix = f"cast it to pl.Decimal(38, {dtype.scale})"
        if problem is not None:
            raise UnsupportedTypeError(
                f"KuzuDBIOManager cannot store column {name!r} of asset {asset}: Kuzu 0.11.3 does "
                f"not load {problem} exactly. Before returning the frame, {fix}."
            )


_INT_MINIMUMS: dict[Any, int] = {pl.Int8: -(2**7), pl.Int16: -(2**15), pl.Int64: -(2**63)}


def ensure_supported(
    obj: Any,
    *,
    context: ContextT,
    manager: str,
    supported: Sequence[PayloadKind],
    fix: str,
) -> PayloadKind:
    """Return the payload kind of ``obj`` or raise a clear :class:`UnsupportedTypeError`.

    Managers that store frames only (tables) also refuse a frame without columns: no database
    creates a table without columns. File stores keep such a frame as it is.
    """
    kind = payload_kind(obj)
    if kind == "frame" and supported == ("frame",) and obj.width == 0:
        raise UnsupportedTypeError(
            f"{manager} cannot store asset {asset_label(context)}: the polars.DataFrame has no "
            "columns, and a table needs at least one. Return the frame with its schema even "
            "when it has no rows, e.g. pl.DataFrame(schema={...})."
        )
    if kind is not None and kind in supported:
        if kind == "frame":
            check_storable_frame(obj, manager=manager, asset=asset_label(context))
        return kind
    stores = " or ".join(_KIND_NAMES[k] for k in supported)
    if obj is None:
        returned = "None"
        fix += " If the asset stores nothing itself, annotate it with `-> None`."
    else:
        type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        returned = f"a {type_name.removeprefix('builtins.')}"
    raise UnsupportedTypeError(
        f"{manager} cannot store asset {asset_label(context)}: it returned {returned}, but "
        f"{manager} stores {stores} only. {fix}"
    )


def check_dict_write_mode(meta: StorageMetadata, *, asset: str) -> None:
    """A dict is always written whole: append and upsert apply to DataFrames only."""
    if meta.write_mode != "overwrite":
        raise MetadataError(
            f"Asset {asset}: write_mode {meta.write_mode!r} applies to DataFrames only; "
            "a dict is written whole. Remove write_mode, or return a polars.DataFrame."
        )


def expected_kind(context: InputContext) -> PayloadKind | None:
    """The payload kind the downstream asks for through its type annotation, if it says."""
    try:
        typing_type = context.dagster_type.typing_type
    except Exception:  # build_input_context without dagster_type
        return None
    origin = typing.get_origin(typing_type) or typing_type
    if isinstance(origin, type):
        if issubclass(origin, pl.DataFrame):
            return "frame"
        if issubclass(origin, dict | Mapping):
            return "dict"
    return None


def ensure_loadable(
    context: InputContext, *, manager: str, supported: Sequence[PayloadKind], fix: str
) -> PayloadKind | None:
    """Refuse to load into an annotation the backend cannot produce; return the expected kind."""
    kind = expected_kind(context)
    if kind is not None and kind not in supported:
        stores = " or ".join(_KIND_NAMES[k] for k in supported)
        raise UnsupportedTypeError(
            f"{manager} cannot load asset {asset_label(context)} as {_KIND_NAMES[kind]}: it "
            f"stores {stores} only. {fix}"
        )
    return kind


# --------------------------------------------------------------------------------------------
# Frames: write modes, columns, dtypes
# --------------------------------------------------------------------------------------------


def check_primary_key(frame: pl.DataFrame, primary_key: Sequence[str], *, asset: str) -> None:
    """Key columns must exist, hold no nulls, and be unique in the incoming frame."""
    missing = [c for c in primary_key if c not in frame.columns]
    if missing:
        raise MetadataError(
            f"Asset {asset}: primary_key column(s) {', '.join(missing)} are not in the frame "
            f"(columns: {', '.join(frame.columns)})."
        )
    key = list(primary_key)
    null_rows = frame.select(pl.any_horizontal(pl.col(key).is_null()).sum()).item()
    if null_rows:
        raise MetadataError(
            f"Asset {asset}: {null_rows} rows have a null in primary_key {key}; keys must be set."
        )
    duplicates = frame.height - frame.select(key).n_unique()
    if duplicates:
        raise MetadataError(
            f"Asset {asset}: the frame repeats {duplicates} primary_key value(s) of {key}; an "
            "upsert needs one row per key. Deduplicate the frame first."
        )


def check_no_drift(
    stored: Mapping[str, Any],
    incoming: Mapping[str, Any],
    *,
    asset: str,
    where: str,
    compatible: Callable[[Any, Any], bool] | None = None,
) -> None:
    """Refuse to add frames whose columns or types differ from what is stored at ``where``.

    Types are polars dtypes by default; backends without a stored polars schema may pass their
    own type names and ``compatible`` (e.g. ``operator.eq``).
    """
    compatible = compatible or dtypes_compatible
    new = [c for c in incoming if c not in stored]
    gone = [c for c in stored if c not in incoming]
    changed = [
        f"{c} ({stored[c]} -> {incoming[c]})"
        for c in incoming
        if c in stored and not compatible(stored[c], incoming[c])
    ]
    if new or gone or changed:
        details = "; ".join(
            text
            for text in (
                f"new columns: {', '.join(new)}" if new else "",
                f"missing columns: {', '.join(gone)}" if gone else "",
                f"changed dtypes: {', '.join(changed)}" if changed else "",
            )
            if text
        )
        raise SchemaDriftError(
            f"Asset {asset}: the frame does not match the schema stored at {where} ({details}). "
            "Return the stored columns and dtypes, or migrate the stored data first (for a table: "
            "ALTER TABLE, or drop it to let the next full write recreate it)."
        )


def dtypes_compatible(stored: pl.DataType, incoming: pl.DataType) -> bool:
    """Equal dtypes; timezone-aware datetimes match whatever their zone (they are instants)."""
    if stored == incoming:
        return True
    return (
        isinstance(stored, pl.Datetime)
        and isinstance(incoming, pl.Datetime)
        and stored.time_unit == incoming.time_unit
        and stored.time_zone is not None
        and incoming.time_zone is not None
    )


def merge_frames(
    existing: pl.DataFrame | None,
    incoming: pl.DataFrame,
    meta: StorageMetadata,
    *,
    asset: str,
    where: str,
) -> pl.DataFrame:
    """The frame to store after a write in ``meta.write_mode`` (for stores of whole files).

    overwrite: the incoming frame. append: existing rows then incoming rows. upsert: existing rows
    whose key is not in the incoming frame, then the incoming rows.
    """
    if meta.write_mode == "upsert":
        check_primary_key(incoming, meta.primary_key, asset=asset)
    if meta.write_mode == "overwrite" or existing is None:
        return incoming
    check_no_drift(existing.schema, incoming.schema, asset=asset, where=where)
    incoming = incoming.select(existing.columns).cast(dict(existing.schema))
    if meta.write_mode == "append":
        return pl.concat([existing, incoming], how="vertical")
    kept = existing.join(incoming.select(meta.primary_key), on=list(meta.primary_key), how="anti")
    return pl.concat([kept, incoming], how="vertical")


def select_columns(
    frame_columns: Sequence[str], columns: Sequence[str] | None, *, asset: str, where: str
) -> list[str] | None:
    """Validate an input's ``columns`` against the stored columns; ``None`` means all."""
    if columns is None:
        return None
    missing = [c for c in columns if c not in frame_columns]
    if missing:
        raise MetadataError(
            f"Asset {asset}: input metadata 'columns' asks for {', '.join(missing)}, which "
            f"{where} does not have (columns: {', '.join(frame_columns)})."
        )
    return list(columns)


def concat_frames(frames: Mapping[str, pl.DataFrame], *, asset: str) -> pl.DataFrame:
    """Concatenate the frames of several partitions, refusing partitions of different schemas."""
    if not frames:
        return pl.DataFrame()
    items = list(frames.items())
    first_key, first = items[0]
    for key, frame in items[1:]:
        check_no_drift(
            first.schema, frame.schema, asset=asset, where=f"partition {first_key} vs {key}"
        )
    return pl.concat(
        [frame.select(first.columns).cast(dict(first.schema)) for _, frame in items],
        how="vertical",
    )


_SCHEMA_PREFIX = "dagster-polars-schema:v1:"


def encode_frame_schema(schema: Mapping[str, pl.DataType]) -> str:
    """A compact text form of a polars schema (Arrow IPC, zlib, base64), for table comments.

    Backends whose column types do not carry every polars dtype (timestamp units, categoricals,
    enums, unsigned integers) store it next to the data and restore the dtypes on load.
    """
    empty = pl.DataFrame(schema=dict(schema))
    payload = empty.to_arrow().schema.serialize().to_pybytes()
    return _SCHEMA_PREFIX + base64.b64encode(zlib.compress(payload, 9)).decode("ascii")


def decode_frame_schema(text: str | None) -> pl.Schema | None:
    """Inverse of :func:`encode_frame_schema`; ``None`` if ``text`` is not such a schema."""
    if not text or not text.startswith(_SCHEMA_PREFIX):
        return None
    import pyarrow as pa

    try:
        raw = zlib.decompress(base64.b64decode(text.removeprefix(_SCHEMA_PREFIX)))
        arrow_schema = pa.ipc.read_schema(pa.py_buffer(raw))
        frame = pl.from_arrow(arrow_schema.empty_table())
    except Exception:  # unreadable (other polars/pyarrow version): fall back to stored types
        return None
    return frame.schema if isinstance(frame, pl.DataFrame) else None


def restore_dtypes(frame: pl.DataFrame, written: Mapping[str, pl.DataType] | None) -> pl.DataFrame:
    """Cast columns back to the dtypes that were written.

    Timezone-aware datetimes keep the written time unit but come back in UTC.
    """
    if not written:
        return frame
    casts: dict[str, pl.DataType] = {}
    for name, loaded in frame.schema.items():
        target = written.get(name)
        if target is None:
            continue
        if isinstance(target, pl.Datetime) and target.time_zone is not None:
            target = pl.Datetime(target.time_unit, "UTC")
        if loaded != target:
            casts[name] = target
    return frame.cast(casts) if casts else frame


# --------------------------------------------------------------------------------------------
# JSON encoding of dict payloads
# --------------------------------------------------------------------------------------------


class JSONEncodingError(IOManagerError, TypeError):
    """A dict payload holds a value JSON cannot represent without losing data."""


def to_json_compatible(value: Any, *, asset: str, path: str = "$") -> Any:
    """Convert ``value`` to plain JSON types, deterministically, or raise naming the key path.

    datetime/date/time -> ISO 8601 string (offset kept when timezone-aware), Decimal -> string
    (exact), tuple -> list. NaN/Infinity, non-string dict keys, sets, bytes and other objects raise
    :class:`JSONEncodingError`: JSON has no lossless form for them.
    """
    return _to_json(value, asset, path, set())


def _to_json(value: Any, asset: str, path: str, active: set[int]) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        _json_error(
            asset, path, f"the float {value!r} has no JSON form", "replace it with None or a string"
        )
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list | tuple):
        if id(value) in active:
            _json_error(asset, path, "it is a circular reference", "break the cycle")
        active.add(id(value))
        try:
            if isinstance(value, dict):
                result = {}
                for key, item in value.items():
                    if not isinstance(key, str):
                        _json_error(
                            asset,
                            f"{path}[{key!r}]",
                            f"the key {key!r} is a {type(key).__name__}, not a string",
                            "use string keys",
                        )
                    result[key] = _to_json(item, asset, f"{path}.{key}", active)
                return result
            return [_to_json(item, asset, f"{path}[{i}]", active) for i, item in enumerate(value)]
        finally:
            active.discard(id(value))
    _json_error(
        asset,
        path,
        f"a {type(value).__qualname__} has no lossless JSON form",
        "convert it to str, int, float, bool, None, list or dict",
    )


def _json_error(asset: str, path: str, problem: str, fix: str) -> typing.NoReturn:
    raise JSONEncodingError(f"Asset {asset}: cannot write {path} as JSON: {problem}; {fix}.")


def encode_json(payload: Mapping[str, Any], *, asset: str) -> bytes:
    """UTF-8 JSON bytes of a dict payload (see :func:`to_json_compatible` for the rules)."""
    options: dict[str, Any] = {"ensure_ascii": False, "allow_nan": False, "separators": (",", ":")}
    # Fast path: the C encoder refuses NaN, cycles and unknown objects by itself; only
    # non-string keys (which it would turn into strings) need a look. The Python walk runs only
    # when something is wrong, to name the key path in the error.
    try:
        text = json.dumps(payload, default=_json_default, **options)
    except (TypeError, ValueError, RecursionError):
        text = None
    if text is None or _has_non_string_key(payload):
        text = json.dumps(to_json_compatible(payload, asset=asset), **options)
    return text.encode("utf-8")


def _json_default(value: Any) -> Any:
    """The conversions of :func:`to_json_compatible` for the C encoder; anything else raises."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__qualname__)


def _has_non_string_key(payload: Any) -> bool:
    """True if a dict anywhere in the payload has a key that is not a string.

    Walks one nesting level at a time; ``set(map(type, ...))`` over each level runs at C
    speed, so a million scalars cost milliseconds. Called after ``json.dumps`` succeeded, so
    the payload has no cycles.
    """
    level: list[Any] = [payload]
    while level:
        dicts = [value for value in level if isinstance(value, dict)]
        sequences = [value for value in level if not isinstance(value, dict)]
        key_types = set(map(type, itertools.chain.from_iterable(dicts)))
        if not all(issubclass(kind, str) for kind in key_types):
            return True
        kinds = set(map(type, _children(dicts, sequences)))
        if not any(issubclass(kind, dict | list | tuple) for kind in kinds):
            return False
        level = [c for c in _children(dicts, sequences) if isinstance(c, dict | list | tuple)]
    return False


def _children(dicts: list[dict[Any, Any]], sequences: list[Any]) -> Iterable[Any]:
    values = itertools.chain.from_iterable(value.values() for value in dicts)
    return itertools.chain(values, itertools.chain.from_iterable(sequences))


def decode_json(data: bytes | str) -> Any:
    return json.loads(data)


# --------------------------------------------------------------------------------------------
# Output metadata
# --------------------------------------------------------------------------------------------


def column_schema(schema: Mapping[str, pl.DataType]) -> TableSchema:
    """A Dagster TableSchema from a polars schema."""
    return TableSchema(
        columns=[TableColumn(name=name, type=str(dtype)) for name, dtype in schema.items()]
    )


def payload_row_count(obj: pl.DataFrame | Mapping[str, Any]) -> int:
    """Rows of a frame; for a dict, the length of its ``data`` list, else its number of keys."""
    if isinstance(obj, pl.DataFrame):
        return obj.height
    data = obj.get("data")
    return len(data) if isinstance(data, list) else len(obj)


def frame_preview(frame: pl.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small markdown table of the first rows."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        if len(text) > _PREVIEW_CELL_CHARS:
            text = text[: _PREVIEW_CELL_CHARS - 1] + "…"
        return text.replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.head(rows).iter_rows()]
    return "\n".join([header, rule, *body])


def dict_preview(payload: Mapping[str, Any], rows: int = PREVIEW_ROWS) -> str:
    """A markdown code block with the first records of ``data`` (or the dict), truncated."""
    data = payload.get("data")
    sample: Any = data[:rows] if isinstance(data, list) else payload
    # Nested lists are cut too, so a large payload is not serialized whole for a preview.
    text = json.dumps(
        _first_items(sample, _PREVIEW_NESTED_ITEMS), ensure_ascii=False, default=str, indent=1
    )
    if len(text) > _PREVIEW_JSON_CHARS:
        text = text[:_PREVIEW_JSON_CHARS] + "\n…"
    return f"```json\n{text}\n```"


def _first_items(value: Any, count: int) -> Any:
    if isinstance(value, list | tuple):
        return [_first_items(item, count) for item in value[:count]]
    if isinstance(value, Mapping):
        return {key: _first_items(item, count) for key, item in value.items()}
    return value


def build_output_metadata(
    obj: pl.DataFrame | Mapping[str, Any],
    *,
    partitioned: bool,
    uri: str | None = None,
    table_name: str | None = None,
    row_count: int | None = None,
    write_mode: WriteMode = "overwrite",
) -> dict[str, MetadataValue]:
    """The metadata every output reports.

    ``dagster/partition_row_count`` (partitioned) or ``dagster/row_count``: the rows stored after
    the write (pass ``row_count`` when it differs from ``obj``, e.g. after an append);
    ``dagster/column_schema`` for frames; ``dagster/uri`` or ``dagster/table_name``; ``preview``.
    """
    count = payload_row_count(obj) if row_count is None else row_count
    count_key = "dagster/partition_row_count" if partitioned else "dagster/row_count"
    metadata: dict[str, MetadataValue] = {count_key: MetadataValue.int(count)}
    if isinstance(obj, pl.DataFrame):
        metadata["dagster/column_schema"] = MetadataValue.table_schema(column_schema(obj.schema))
        metadata["preview"] = MetadataValue.md(frame_preview(obj))
    else:
        metadata["preview"] = MetadataValue.md(dict_preview(obj))
    if uri is not None:
        metadata["dagster/uri"] = MetadataValue.text(uri)
    if table_name is not None:
        metadata["dagster/table_name"] = MetadataValue.text(table_name)
    metadata["write_mode"] = MetadataValue.text(write_mode)
    return metadata


# --------------------------------------------------------------------------------------------
# Locks
# --------------------------------------------------------------------------------------------


def retry_while_locked(
    open_storage: Callable[[], T],
    *,
    is_locked: Callable[[BaseException], bool],
    timeout_seconds: float,
    resource: str,
    holder: Callable[[BaseException], str | None] = lambda _error: None,
    setting: str = "lock_timeout_seconds",
    initial_backoff_seconds: float = 0.05,
    max_backoff_seconds: float = 1.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Call ``open_storage`` until it stops failing with a lock error, for a bounded time.

    Embedded databases (DuckDB, Kuzu) allow one writing process per file. Backoff doubles from
    ``initial_backoff_seconds`` up to ``max_backoff_seconds``; after ``timeout_seconds`` a
    :class:`StorageLockedError` names the resource, the lock holder if known, and the setting.
    """
    deadline = time.monotonic() + max(timeout_seconds, 0.0)
    backoff = initial_backoff_seconds
    while True:
        try:
            return open_storage()
        except Exception as error:
            if not is_locked(error):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                who = holder(error)
                raise StorageLockedError(
                    f"{resource} is locked by another process"
                    f"{f' ({who})' if who else ''} and stayed locked for {timeout_seconds:g} s. "
                    "Close the process holding it (a notebook, a DuckDB/Kuzu shell, another run "
                    f"writing the same file), or raise {setting}. Original error: {error}"
                ) from error
            wait = min(backoff, remaining)
            if on_retry is not None:
                on_retry(error, wait)
            time.sleep(wait)
            backoff = min(backoff * 2, max_backoff_seconds)
