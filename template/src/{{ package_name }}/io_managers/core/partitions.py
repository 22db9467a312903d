"""Partitions: keys and time windows, hive path segments, table-slice filters (bound values)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import polars as pl
from dagster import (
    MultiPartitionKey,
    MultiPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

from .context import ContextT
from .errors import MetadataError, PartitionMismatchError, UnsafeNameError
from .expressions import Dialect, PartitionExpr, is_bare_column, parse_partition_expr, render_sql
from .metadata import StorageMetadata
from .naming import quote_identifier, validate_identifier, validate_path_segment

# Hive-style name of the path segment of a single-dimension partition.
TIME_PARTITION_SEGMENT = "date"
STATIC_PARTITION_SEGMENT = "partition"


class TimeWindow(NamedTuple):
    """A half-open time interval ``[start, end)`` with timezone-aware bounds.

    Example::

        start = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
        day = TimeWindow(start, start + dt.timedelta(days=1))
        window_bounds(day, "date")  # (date(2024, 1, 2), date(2024, 1, 3))
    """

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
    ``None`` for static or dynamic dimensions, which are filtered by ``keys``. ``key_windows``
    (time dimensions) holds the window of each key, in the order of ``keys``.

    Example::

        day = TimeWindow(start, end)
        days = PartitionDimension("date", ("2024-01-02",), (day,), (day,))
        symbols = PartitionDimension("symbol", ("BTC/USDT", "ETH/USDT"), None)
    """

    name: str
    keys: tuple[str, ...]
    windows: tuple[TimeWindow, ...] | None
    key_windows: tuple[TimeWindow, ...] | None = None


@dataclass(frozen=True)
class PartitionSelection:
    """The partitions an output writes or an input reads.

    Built by :func:`partition_selection` from an output or input context (``None`` when the
    asset is unpartitioned).

    Example::

        selection = partition_selection(context)  # a daily asset, partition 2024-01-02
        selection.keys  # ("2024-01-02",)
        selection.path_segments("2024-01-02")  # ("date=2024-01-02",)
    """

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


def _dimension(name: str, keys: tuple[str, ...], partitions_def: Any) -> PartitionDimension:
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        key_windows = tuple(
            TimeWindow(*partitions_def.time_window_for_partition_key(key)) for key in keys
        )
        return PartitionDimension(name, keys, merge_windows(key_windows), key_windows)
    return PartitionDimension(name, keys, None)


class ColumnFilter(NamedTuple):
    """Rows of one partition dimension: ``column`` inside one of ``windows`` or in ``values``.

    ``expr`` is set when ``partition_expr`` is an expression over columns (time dimensions
    only); ``column`` is then its source text, for messages.

    Example::

        by_symbol = ColumnFilter("symbol", "symbol", None, ("BTC/USDT", "ETH/USDT"))
        build_where_clause([by_symbol])  # ('"symbol" IN (?, ?)', ["BTC/USDT", "ETH/USDT"])
    """

    column: str
    dimension: str
    windows: tuple[TimeWindow, ...] | None
    values: tuple[str, ...] | None
    expr: PartitionExpr | None = None


TABLE_NEEDS_COLUMN = "Asset {asset} is partitioned, so a table backend needs to know"


def missing_partition_expr_message(
    asset: str, selection: PartitionSelection, needs: str = TABLE_NEEDS_COLUMN
) -> str:
    """Why ``partition_expr`` is needed (``needs``, formatted with ``asset``) and what to add."""
    if selection.multi:
        example = ", ".join(f'"{d.name}": "<column>"' for d in selection.dimensions)
        example = "{" + example + "}"
    else:
        example = '"<timestamp column>"'
    return (
        f"{needs.format(asset=asset)} which column holds the partition. Add it to the asset's "
        f'metadata: @asset(..., metadata={{"partition_expr": {example}}}).'
    )


def partition_sources(
    selection: PartitionSelection,
    meta: StorageMetadata,
    *,
    asset: str,
    needs: str = TABLE_NEEDS_COLUMN,
) -> dict[str, str | PartitionExpr]:
    """What ``partition_expr`` names for each dimension of ``selection``: a validated column,
    or a checked expression over columns (time dimensions only, see :mod:`.expressions`).

    ``needs`` says why it is needed when ``partition_expr`` is missing (see
    :func:`missing_partition_expr_message`).
    """
    expr = meta.partition_expr
    how = missing_partition_expr_message(asset, selection, needs)
    if expr is None:
        raise MetadataError(how)
    if selection.multi:
        if not isinstance(expr, Mapping):
            raise MetadataError(
                f"Asset {asset} has multi-dimensional partitions; 'partition_expr' must be a dict "
                f"of dimension -> column or expression. {how}"
            )
        missing = [d.name for d in selection.dimensions if d.name not in expr]
        if missing:
            raise MetadataError(
                f"Asset {asset}: 'partition_expr' has no column for dimension(s) "
                f"{', '.join(missing)}. {how}"
            )
        columns = {d.name: expr[d.name] for d in selection.dimensions}
    else:
        if not isinstance(expr, str):
            raise MetadataError(
                f"Asset {asset} has one partition dimension; 'partition_expr' must be one column "
                f"name or expression, got {expr!r}."
            )
        columns = {selection.dimensions[0].name: expr}
    time_dimensions = {d.name for d in selection.dimensions if d.windows is not None}
    sources: dict[str, str | PartitionExpr] = {}
    for name, text in columns.items():
        if is_bare_column(text):
            sources[name] = validate_identifier(text, f"partition_expr column of {asset}")
        elif name not in time_dimensions:
            raise MetadataError(
                f"Asset {asset}: partition_expr {text!r} of dimension {name!r} is an "
                "expression, but that dimension is not a time dimension: its keys are matched "
                "against a column's values, so name the column."
            )
        else:
            sources[name] = parse_partition_expr(text, asset=asset)
    return sources


def expression_refused(asset: str, expr: PartitionExpr, store: str) -> MetadataError:
    """The error of a store that filters partitions on a stored column only."""
    return MetadataError(
        f"Asset {asset}: partition_expr {expr.source!r} is an expression, and {store} selects "
        "partitions by a stored DATE or TIMESTAMP column only. Name such a column, computing it "
        'in the asset if needed, e.g. frame.with_columns(pl.from_epoch("ts_ms", '
        'time_unit="ms").alias("ts")) with metadata={"partition_expr": "ts"}.'
    )


def table_filters(
    selection: PartitionSelection,
    meta: StorageMetadata,
    *,
    asset: str,
    expressions: bool = False,
    store: str = "KuzuDBIOManager",
) -> tuple[ColumnFilter, ...]:
    """The column filters selecting exactly the partitions of ``selection``.

    ``expressions``: whether the store renders ``partition_expr`` expressions (table stores);
    if not, an expression is refused naming ``store``.
    """
    sources = partition_sources(selection, meta, asset=asset)
    filters = []
    for dimension in selection.dimensions:
        source = sources[dimension.name]
        if isinstance(source, PartitionExpr):
            if not expressions:
                raise expression_refused(asset, source, store)
            assert dimension.windows is not None  # partition_sources: time dimensions only
            filters.append(
                ColumnFilter(source.source, dimension.name, dimension.windows, None, source)
            )
        elif dimension.windows is not None:
            filters.append(ColumnFilter(source, dimension.name, dimension.windows, None))
        else:
            filters.append(ColumnFilter(source, dimension.name, None, dimension.keys))
    return tuple(filters)


TemporalKind = Literal["date", "timestamp", "timestamptz"]
_ZONED_TYPES = ("timestamptz", "timestamp with time zone", "timestamp_tz")


def temporal_kind_of(data_type: str) -> TemporalKind | None:
    """How window bounds are bound for a column of this catalog type, in any engine's spelling
    (PostgreSQL, DuckDB, SQLite, Iceberg, Kuzu); None when it is not a date or timestamp.

    Example::

        temporal_kind_of("timestamp with time zone")  # "timestamptz"
        temporal_kind_of("TIMESTAMP_NS")  # "timestamp"
        temporal_kind_of("VARCHAR")  # None
    """
    name = data_type.strip().lower()
    if name == "date":
        return "date"
    if name.startswith(_ZONED_TYPES):
        return "timestamptz"
    if name.startswith(("timestamp", "datetime")):
        return "timestamp"
    return None


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
    dialect: Dialect | None = None,
) -> tuple[str, list[Any]]:
    """A WHERE condition (without ``WHERE``) and its parameters for the given filters.

    Identifiers go through ``quote``; values are always bound parameters. ``placeholder(i)``
    gives the i-th parameter marker of the driver (``?``, ``%s``, ``$1`` ...). Filters on an
    expression are rendered in ``dialect`` (required for them).
    """
    params: list[Any] = []

    def marker(value: Any) -> str:
        params.append(value)
        return placeholder(len(params) - 1)

    clauses = []
    for column_filter in filters:
        expr = column_filter.expr
        if expr is not None:
            if dialect is None:
                raise MetadataError(
                    f"partition_expr {expr.source!r} is an expression; this store filters on "
                    "a column only."
                )
            column = render_sql(expr, dialect, quote)
        else:
            column = quote(column_filter.column)
        if column_filter.windows is not None:
            kind = expr.kind if expr is not None else temporal_kind(column_filter.column)
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
        expr = column_filter.expr
        if expr is not None:
            expr.uses_only(frame.columns, asset=asset, where="frame")
            shown_columns = list(expr.columns)
        elif column not in frame.columns:
            raise MetadataError(
                f"Asset {asset}: 'partition_expr' names column {column!r}, which the frame does "
                f"not have (columns: {', '.join(frame.columns)})."
            )
        else:
            shown_columns = [column]
        if column_filter.windows is not None:
            if expr is not None:
                inside = _in_windows(expr.kind, pl.lit(expr.evaluate(frame)), column_filter.windows)
            else:
                dtype = frame.schema[column]
                inside = _in_windows_expr(dtype, column, column_filter.windows, asset)
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
                f"{_first_values(outside, shown_columns, expr)}. A partition write replaces "
                "exactly its own slice, so filter the frame to the partition before returning it."
            )


def temporal_column(dtype: pl.DataType, column: str, asset: str) -> tuple[TemporalKind, pl.Expr]:
    """How a frame's time partition column compares with window bounds: its kind, and the
    column as an expression (timezone-aware values in UTC, as :func:`window_bounds` gives)."""
    if dtype == pl.Date:
        return "date", pl.col(column)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return "timestamp", pl.col(column)
        return "timestamptz", pl.col(column).dt.convert_time_zone("UTC")
    raise MetadataError(
        f"Asset {asset}: the partition_expr column {column!r} has dtype {dtype}; a time "
        "partition needs a Date or Datetime column."
    )


def _in_windows_expr(
    dtype: pl.DataType, column: str, windows: Sequence[TimeWindow], asset: str
) -> pl.Expr:
    kind, col = temporal_column(dtype, column, asset)
    return _in_windows(kind, col, windows)


def _in_windows(kind: TemporalKind, col: pl.Expr, windows: Sequence[TimeWindow]) -> pl.Expr:
    condition = pl.lit(False)
    for window in windows:
        start, end = window_bounds(window, kind)
        condition = condition | ((col >= pl.lit(start)) & (col < pl.lit(end)))
    return condition


def _first_values(
    frame: pl.DataFrame, columns: Sequence[str], expr: PartitionExpr | None = None
) -> str:
    """The first row's partition column (or, for an expression, its columns and its value)."""
    row = frame.select(columns).row(0, named=True)
    if expr is None:
        return str(row[columns[0]])
    shown = ", ".join(f"{name}={value}" for name, value in row.items())
    return f"{shown}, where {expr.source} = {expr.evaluate(frame.head(1))[0]}"
