"""Range outputs: one payload per partition, for stores that keep one file or object per partition.

A run of several partitions (a single-run backfill) hands its output one value for all of them.
A store that keeps one file per partition splits it into what the partitions run one by one
would have returned:

- a polars DataFrame by its partition column(s), the ``partition_expr`` metadata: each row goes
  to the partition whose time window (or static key) holds it; a partition without rows gets an
  empty frame of the same schema; a row of no partition of the run is refused;
- a dict as ``{partition_key: payload}`` (the convention of Dagster's ``UPathIOManager``), with
  exactly the run's partition keys.

Both refuse before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from dagster import MultiPartitionKey

from .errors import MetadataError, PartitionMismatchError
from .expressions import PartitionExpr
from .metadata import StorageMetadata
from .partitions import (
    PartitionDimension,
    PartitionSelection,
    partition_sources,
    temporal_column,
    window_bounds,
)

_SHOWN_KEYS = 5


def describe_keys(keys: Sequence[str]) -> str:
    """``2024-01-02``, or ``2024-01-02...2024-01-05`` (the form of ``--partition-range``)."""
    if not keys:
        return "none"
    return str(keys[0]) if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"


def _listing(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(value) for value in values[:_SHOWN_KEYS])
    more = len(values) - _SHOWN_KEYS
    return shown + (f" and {more} more" if more > 0 else "")


def split_mapping(
    obj: Mapping[Any, Any], selection: PartitionSelection, *, asset: str
) -> dict[str, Any]:
    """The payload of each partition of ``selection``, from ``{partition_key: payload}``.

    The keys must be exactly the partition keys of the run (as strings); the result is keyed by
    the selection's own keys, in their order.

    Example::

        split_mapping({"2024-01-02": a, "2024-01-03": b}, selection, asset="raw/x")
        # {"2024-01-02": a, "2024-01-03": b}; any other key, or a missing one, raises
    """
    expected = {str(key): key for key in selection.keys}
    missing = [name for name in expected if name not in obj]
    extra = [key for key in obj if not isinstance(key, str) or key not in expected]
    if missing or extra:
        problems = "; ".join(
            text
            for text in (
                f"missing partition(s): {_listing(missing)}" if missing else "",
                f"keys that are not partitions of this run: {_listing(extra)}" if extra else "",
            )
            if text
        )
        raise PartitionMismatchError(
            f"Asset {asset}: this run covers {len(expected)} partitions "
            f"({describe_keys(list(expected))}), so its dict output must map each partition key "
            f"to that partition's payload, {{partition_key: payload}}, with exactly those keys "
            f"({problems}). Return one entry per key of context.partition_keys (a run of one "
            "partition returns the payload itself). Nothing was written."
        )
    return {key: obj[name] for name, key in expected.items()}


def split_frame(
    frame: pl.DataFrame,
    selection: PartitionSelection,
    meta: StorageMetadata,
    *,
    asset: str,
    needs: str,
    unit: str,
) -> dict[str, pl.DataFrame]:
    """The rows of each partition of ``selection``, by the ``partition_expr`` column(s) or
    expression(s) (computed by polars, see :mod:`.expressions`).

    Every partition gets a frame of ``frame``'s schema (no rows if none fall in it), rows keep
    their order; a row outside every partition of the selection raises
    :class:`PartitionMismatchError`, a missing ``partition_expr`` a :class:`MetadataError`
    saying why it is needed (``needs``, see :func:`~.partitions.partition_sources`).

    Example::

        days = split_frame(frame, selection, StorageMetadata(partition_expr="ts"),
                           asset="market/ohlcv", needs="...", unit="file")
        days["2024-01-03"]  # the rows whose ts falls on 2024-01-03
    """
    sources = partition_sources(selection, meta, asset=asset, needs=needs)
    columns: list[str] = []
    for source in sources.values():
        if isinstance(source, PartitionExpr):
            source.uses_only(frame.columns, asset=asset, where="frame")
            columns.extend(c for c in source.columns if c not in columns)
        elif source not in frame.columns:
            raise MetadataError(
                f"Asset {asset}: 'partition_expr' names column {source!r}, which the frame does "
                f"not have (columns: {', '.join(frame.columns)})."
            )
        elif source not in columns:
            columns.append(source)
    # The key of each row in each dimension (null: none of the run's keys), then the index of
    # the run's partition with those keys (null: a combination the run does not write).
    names = [f"dimension_{i}" for i in range(len(selection.dimensions))]
    row_keys = pl.DataFrame(
        [
            _dimension_keys(frame, dimension, sources[dimension.name], asset).alias(name)
            for dimension, name in zip(selection.dimensions, names, strict=True)
        ]
    )
    partitions = pl.DataFrame(
        {
            name: [_key_of(key, dimension.name) for key in selection.keys]
            for dimension, name in zip(selection.dimensions, names, strict=True)
        },
        schema=dict.fromkeys(names, pl.String),
    ).with_row_index("index")
    index = (
        row_keys.join(partitions, on=names, how="left", maintain_order="left")
        .get_column("index")
        .rename(_free_name(frame))
    )

    outside = index.is_null()
    if outside.any():
        _refuse_rows_outside(frame, outside, selection, columns, asset, unit)

    groups = frame.with_columns(index).partition_by(
        index.name, as_dict=True, include_key=False, maintain_order=True
    )
    empty = frame.clear()
    return {key: groups.get((i,), empty) for i, key in enumerate(selection.keys)}


def _dimension_keys(
    frame: pl.DataFrame,
    dimension: PartitionDimension,
    source: str | PartitionExpr,
    asset: str,
) -> pl.Series:
    """For each row, the key of ``dimension`` whose window (or value) holds it; else null."""
    key_windows = dimension.key_windows
    if key_windows is None:
        assert isinstance(source, str)  # partition_sources: expressions on time dimensions only
        values = frame.get_column(source).cast(pl.String)
        return values.zip_with(values.is_in(list(dimension.keys)).fill_null(False), _nulls(values))
    if isinstance(source, PartitionExpr):
        kind, values = source.kind, source.evaluate(frame)
    else:
        kind, expression = temporal_column(frame.schema[source], source, asset)
        values = frame.select(expression).to_series()
    order = sorted(range(len(dimension.keys)), key=lambda i: key_windows[i].start)
    bounds = [window_bounds(key_windows[i], kind) for i in order]
    starts = pl.Series([start for start, _ in bounds]).cast(values.dtype)
    ends = pl.Series([end for _, end in bounds]).cast(values.dtype)
    keys = pl.Series([dimension.keys[i] for i in order], dtype=pl.String)
    # The last window starting at or before each value; it holds the value if it ends after it.
    position = starts.search_sorted(values, side="right").cast(pl.Int64) - 1
    candidate = position.clip(lower_bound=0)
    inside = (position >= 0) & (values < ends.gather(candidate))
    matched = keys.gather(candidate)
    return matched.zip_with(inside.fill_null(False), _nulls(matched))


def _key_of(key: str, dimension: str) -> str:
    """The key of one dimension of a partition key (the key itself for one dimension)."""
    return key.keys_by_dimension[dimension] if isinstance(key, MultiPartitionKey) else key


def _nulls(like: pl.Series) -> pl.Series:
    return pl.Series([None] * len(like), dtype=pl.String)


def _free_name(frame: pl.DataFrame) -> str:
    name = "__partition_index"
    while name in frame.columns:
        name = "_" + name
    return name


def _refuse_rows_outside(
    frame: pl.DataFrame,
    outside: pl.Series,
    selection: PartitionSelection,
    columns: list[str],
    asset: str,
    unit: str,
) -> None:
    rows = frame.filter(outside)
    first = rows.select(columns).row(0, named=True)
    shown = ", ".join(f"{column}={value}" for column, value in first.items())
    windows = [
        f"[{d.windows[0].start.isoformat()}, {d.windows[-1].end.isoformat()})"
        if d.windows is not None and len(d.windows) == 1
        else describe_keys(d.keys)
        for d in selection.dimensions
    ]
    raise PartitionMismatchError(
        f"Asset {asset}: {rows.height} of {frame.height} rows have {', '.join(map(repr, columns))} "
        f"outside the {len(selection.keys)} partitions of this run "
        f"({describe_keys(selection.keys)}: {', '.join(windows)}); first offending row: {shown}. "
        f"Each partition is stored as its own {unit}, so filter the frame to the run's partitions "
        "(context.partition_time_window, context.partition_keys) before returning it. Nothing "
        "was written."
    )
