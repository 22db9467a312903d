"""polars frames as Arrow tables Iceberg stores, and the dtypes and values it refuses.

Iceberg has no 8/16-bit or unsigned integers, no dictionary (categorical) type and no
durations; its times and timestamps have microsecond precision. The frame is widened where
nothing is lost (Int8 -> int, UInt64 -> decimal(20, 0), Categorical -> string, ...) and the
written polars schema, kept in a table property, restores the dtypes on load; what cannot be
stored exactly is refused before writing.

Example::

    arrow = iceberg_arrow(frame)  # pa.Table with Iceberg-compatible column types
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ..core.errors import UnsupportedTypeError
from ..core.payloads import RefusedDtypes

if TYPE_CHECKING:
    import pyarrow as pa

MANAGER = "IcebergIOManager"

# polars dtypes Iceberg cannot store and give back exactly, refused before anything is written.
REFUSED_DTYPES = RefusedDtypes(
    {
        pl.Duration: "cast it to Int64 (e.g. pl.col(...).dt.total_microseconds())",
        pl.Int128: "cast it to Int64, or to pl.Decimal(38, 0)",
        pl.UInt128: "cast it to pl.Decimal(38, 0)",
        pl.Float16: "cast it to Float32",
        pl.Object: "convert it to a column of a storable dtype",
    },
    # Widening happens on top-level columns only; inside lists and structs, cast first.
    nested={
        pl.Categorical: "cast the nested values to String (e.g. pl.List(pl.String))",
        pl.Enum: "cast the nested values to String (e.g. pl.List(pl.String))",
        pl.Int8: "cast the nested values to Int32",
        pl.Int16: "cast the nested values to Int32",
        pl.UInt8: "cast the nested values to Int32",
        pl.UInt16: "cast the nested values to Int32",
        pl.UInt32: "cast the nested values to Int64",
        pl.UInt64: "cast the nested values to pl.Decimal(20, 0)",
        pl.Time: "cast the nested values to String, or move them to a top-level column",
        pl.Null: "cast the nested values to a concrete dtype",
    },
    alternative="store it with FilesystemIOManager or S3IOManager (Parquet)",
)

#: Top-level dtypes widened to an Iceberg type (restored on load from the stored schema).
_WIDEN: tuple[tuple[tuple[type[pl.DataType], ...], pl.DataType], ...] = (
    ((pl.Int8, pl.Int16, pl.UInt8, pl.UInt16), pl.Int32()),
    ((pl.UInt32,), pl.Int64()),
    ((pl.UInt64,), pl.Decimal(20, 0)),
    ((pl.Categorical, pl.Enum, pl.Null), pl.String()),
)


def check_values(frame: pl.DataFrame, asset: str) -> None:
    """Refuse values Iceberg would store differently: sub-microsecond times and timestamps."""
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns":
            column = pl.col(name).dt.timestamp("ns")
        elif isinstance(dtype, pl.Time):
            column = pl.col(name).cast(pl.Int64)
        else:
            continue
        lost = frame.select((column % 1000 != 0).sum()).item()
        if lost:
            raise UnsupportedTypeError(
                f"{MANAGER} cannot store column {name!r} of asset {asset}: {lost} value(s) have "
                "nanoseconds, and Iceberg keeps microseconds. Round them first, e.g. "
                f'pl.col("{name}").dt.truncate("1us").'
            )


def iceberg_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every top-level column in a dtype Iceberg stores.

    Timezone-aware datetimes become UTC (Iceberg's timestamptz keeps instants, not zones).
    """
    columns: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        for sources, target in _WIDEN:
            if isinstance(dtype, sources):
                columns.append(column.cast(target))
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None and dtype.time_zone != "UTC":
                column = column.dt.convert_time_zone("UTC")
            if dtype.time_unit != "us" or dtype.time_zone not in (None, "UTC"):
                columns.append(column.dt.cast_time_unit("us"))
    return frame.with_columns(columns) if columns else frame


def iceberg_arrow(frame: pl.DataFrame) -> pa.Table:
    """The Arrow table of ``frame`` that pyiceberg writes (times as microseconds)."""
    import pyarrow as pa

    arrow = iceberg_frame(frame).to_arrow()
    fields = [
        field.with_type(pa.time64("us")) if pa.types.is_time64(field.type) else field
        for field in arrow.schema
    ]
    return arrow.cast(pa.schema(fields))
