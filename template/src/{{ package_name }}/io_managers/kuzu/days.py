"""The partitions (days) an output writes, and the frame's rows sorted into them.

A single-run backfill gives one output several days: one frame, whose ``partition_expr``
column names each row's day. Every row must fall in one of the output's partitions (a row of
another day would overwrite history the run does not own), and the rows are stored day by day
in key order, so a range write leaves the table exactly as the same days written one by one:
the same rows, in the same stored order (within one write of a large frame, Kuzu's parallel
``COPY`` picks the order, for a one-day write as well).

Example::

    spans = partition_spans(context, selection, filters)  # in graph_target()
    frame, row_counts = rows_by_partition(frame, filters, spans, asset=asset)
    row_counts  # {"2024-01-01": 1440, "2024-01-02": 0, ...}: every day of the output
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import polars as pl
from dagster import MultiPartitionsDefinition, TimeWindowPartitionsDefinition

from ..core.context import ContextT
from ..core.errors import MetadataError, PartitionMismatchError
from ..core.partitions import (
    ColumnFilter,
    PartitionSelection,
    TemporalKind,
    TimeWindow,
    window_bounds,
)

# How many offending days (or values) an error lists before "and N more".
_LISTED = 5


class PartitionSpan(NamedTuple):
    """One partition key of a time dimension and its window ``[start, end)``."""

    key: str
    window: TimeWindow


class TimeDimension(NamedTuple):
    """The keys of one time dimension an output writes, in time order, and their timezone."""

    spans: tuple[PartitionSpan, ...]
    timezone: str


def partition_spans(
    context: ContextT, selection: PartitionSelection, filters: Sequence[ColumnFilter]
) -> dict[str, TimeDimension]:
    """The time dimensions of the filters, keyed by filter column: each key and its window."""
    partitions_def = context.asset_partitions_def
    if isinstance(partitions_def, MultiPartitionsDefinition):
        definitions: dict[str, Any] = {
            dimension.name: dimension.partitions_def for dimension in partitions_def.partitions_defs
        }
    else:
        definitions = {selection.dimensions[0].name: partitions_def}
    dimensions = {dimension.name: dimension for dimension in selection.dimensions}
    found = {}
    for column_filter in filters:
        definition = definitions[column_filter.dimension]
        if column_filter.windows is None or not isinstance(
            definition, TimeWindowPartitionsDefinition
        ):
            continue
        spans = sorted(
            (
                PartitionSpan(key, TimeWindow(*definition.time_window_for_partition_key(key)))
                for key in dimensions[column_filter.dimension].keys
            ),
            key=lambda span: span.window.start,
        )
        found[column_filter.column] = TimeDimension(tuple(spans), definition.timezone)
    return found


class PartitionedFrame(NamedTuple):
    """The frame to store, rows grouped by partition, and the rows of each partition key.

    ``row_counts`` (key -> rows, every key of the output, 0 for a key without rows) is set for
    outputs of one partition dimension; ``None`` otherwise.
    """

    frame: pl.DataFrame
    row_counts: dict[str, int] | None


def rows_by_partition(
    frame: pl.DataFrame,
    filters: Sequence[ColumnFilter],
    time_dimensions: Mapping[str, TimeDimension],
    *,
    asset: str,
) -> PartitionedFrame:
    """The frame with its rows grouped by partition, in key order (stable within one).

    Raises :class:`PartitionMismatchError` naming the days (or values) of rows that fall in no
    partition of the output. A frame already in key order (every one-day output) is returned
    as it is.
    """
    if not filters:
        return PartitionedFrame(frame, None)
    positions = []
    for column_filter in filters:
        if column_filter.windows is not None:
            dimension = time_dimensions[column_filter.column]
            position = _day_positions(frame, column_filter.column, dimension, asset=asset)
        else:
            position = _value_positions(frame, column_filter)
        outside = position.is_null()
        if outside.any():
            raise PartitionMismatchError(
                _outside_message(frame, column_filter, time_dimensions, outside, asset=asset)
            )
        positions.append(position)
    row_counts = None
    if len(filters) == 1:
        keys = _keys(filters[0], time_dimensions)
        counts = dict(positions[0].value_counts().iter_rows())
        row_counts = {key: int(counts.get(index, 0)) for index, key in enumerate(keys)}
    if len(positions) == 1 and positions[0].is_sorted():
        return PartitionedFrame(frame, row_counts)
    order = (
        pl.DataFrame(positions)
        .with_row_index("row")
        .sort([position.name for position in positions], maintain_order=True)
    )
    return PartitionedFrame(frame[order.get_column("row")], row_counts)


def _keys(column_filter: ColumnFilter, time_dimensions: Mapping[str, TimeDimension]) -> list[str]:
    """The partition keys of one filter, in the order of the positions below."""
    if column_filter.windows is not None:
        return [span.key for span in time_dimensions[column_filter.column].spans]
    return list(column_filter.values or ())


def _comparable(series: pl.Series, asset: str) -> tuple[pl.Series, TemporalKind]:
    """The partition column as window bounds compare with it, and the kind of bounds."""
    dtype = series.dtype
    if dtype == pl.Date:
        return series, "date"
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return series, "timestamp"
        return series.dt.convert_time_zone("UTC"), "timestamptz"
    raise MetadataError(
        f"Asset {asset}: the partition_expr column {series.name!r} has dtype {dtype}; a time "
        "partition needs a Date or Datetime column."
    )


def _day_positions(
    frame: pl.DataFrame, column: str, dimension: TimeDimension, *, asset: str
) -> pl.Series:
    """Each row's position among the output's days; null for a row in none of them."""
    values, kind = _comparable(frame.get_column(column), asset)
    bounds = [window_bounds(span.window, kind) for span in dimension.spans]
    starts = pl.Series([start for start, _ in bounds], dtype=values.dtype)
    ends = pl.Series([end for _, end in bounds], dtype=values.dtype)
    # Windows are sorted and disjoint: the candidate is the last one starting at or before it.
    candidate = starts.search_sorted(values, side="right").cast(pl.Int64) - 1
    inside = (candidate >= 0) & (values < ends.gather(candidate.clip(lower_bound=0)))
    return pl.select(
        pl.when(pl.lit(inside.fill_null(False))).then(pl.lit(candidate)).alias(f"position_{column}")
    ).to_series()


def _value_positions(frame: pl.DataFrame, column_filter: ColumnFilter) -> pl.Series:
    """Each row's position among the output's keys of a static dimension; null if none."""
    keys = list(column_filter.values or ())
    return (
        frame.get_column(column_filter.column)
        .cast(pl.String)
        .replace_strict(keys, list(range(len(keys))), default=None, return_dtype=pl.Int64)
        .alias(f"position_{column_filter.column}")
    )


def _outside_message(
    frame: pl.DataFrame,
    column_filter: ColumnFilter,
    time_dimensions: Mapping[str, TimeDimension],
    outside: pl.Series,
    *,
    asset: str,
) -> str:
    column = column_filter.column
    offending = frame.get_column(column).filter(outside)
    keys = _keys(column_filter, time_dimensions)
    if column_filter.windows is not None:
        named = _days_of(offending, time_dimensions[column].timezone)
        unit = "day"
    else:
        named = offending.cast(pl.String)
        unit = "value"
    counts = (
        pl.DataFrame({"name": named})
        .group_by("name")
        .len()
        .sort("name", nulls_last=True)
        .iter_rows()
    )
    listed = [
        f"{'null' if name is None else name} ({rows} row{'' if rows == 1 else 's'})"
        for name, rows in counts
    ]
    if len(listed) > _LISTED:
        listed = [*listed[:_LISTED], f"and {len(listed) - _LISTED} more {unit}s"]
    written = keys[0] if len(keys) == 1 else f"{len(keys)} partitions, {keys[0]} ... {keys[-1]}"
    return (
        f"Asset {asset}: {offending.len()} of {frame.height} rows have {column!r} outside the "
        f"partition(s) this output writes ({written}): {', '.join(listed)}. Nothing was "
        "written. A partitioned write replaces exactly its own partitions, so filter the frame "
        "to them before returning it (in a range run, to context.partition_time_window)."
    )


def _days_of(values: pl.Series, timezone: str) -> pl.Series:
    """The calendar day (ISO text) of each value in the partitions' timezone."""
    dtype = values.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:  # naive values are UTC instants
            values = values.dt.replace_time_zone("UTC")
        values = values.dt.convert_time_zone(timezone).dt.date()
    return values.cast(pl.Date).cast(pl.String)
