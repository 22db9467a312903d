"""The SQL column type of each polars dtype, for PostgreSQL and SQLite (docs/io-manager-sql.md).

Example::

    column_type(pl.Datetime("ms", "UTC"), column="ts", asset="market/ohlcv").postgres
    # 'timestamp with time zone'
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ..core.errors import UnsupportedTypeError

MANAGER = "SQLIOManager"


@dataclass(frozen=True)
class ColumnType:
    """How one polars dtype is stored: the SQL type of each backend."""

    postgres: str
    sqlite: str


def column_type(dtype: pl.DataType, *, column: str, asset: str) -> ColumnType:
    """The SQL types of a polars dtype, or :class:`UnsupportedTypeError` naming the column.

    PostgreSQL type names are spelled as ``format_type()`` prints them, so a table's types can be
    compared with the frame's. SQLite names are chosen for their type affinity (see SQLite's
    "Datatypes" page): TEXT where the value is text that must not be converted to a number.
    """
    if dtype == pl.Boolean:
        return ColumnType("boolean", "BOOLEAN")
    if dtype in (pl.Int8, pl.Int16, pl.UInt8):
        return ColumnType("smallint", "INTEGER")
    if dtype in (pl.Int32, pl.UInt16):
        return ColumnType("integer", "INTEGER")
    if dtype in (pl.Int64, pl.UInt32):
        return ColumnType("bigint", "INTEGER")
    if dtype == pl.UInt64:
        return ColumnType("numeric(20,0)", "TEXT")
    if dtype == pl.Float32:
        return ColumnType("real", "REAL")
    if dtype == pl.Float64:
        return ColumnType("double precision", "REAL")
    if isinstance(dtype, pl.Decimal):
        return ColumnType(f"numeric({dtype.precision},{dtype.scale})", "TEXT")
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return ColumnType("text", "TEXT")
    if dtype == pl.Binary:
        return ColumnType("bytea", "BLOB")
    if dtype == pl.Date:
        return ColumnType("date", "DATE")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return ColumnType("timestamp without time zone", "TIMESTAMP")
        return ColumnType("timestamp with time zone", "TIMESTAMPTZ")
    if dtype == pl.Time:
        return ColumnType("time without time zone", "TIME")
    if isinstance(dtype, pl.Duration):
        return ColumnType("interval", "INTERVAL")
    if dtype == pl.Null:
        return ColumnType("text", "TEXT")
    raise UnsupportedTypeError(
        f"{MANAGER} cannot store column {column!r} of asset {asset}: polars dtype {dtype} has no "
        "SQL column type in its type map. Convert it first (nested values: e.g. "
        "pl.col(...).struct.json_encode() or cast to String), or store the frame with an IO "
        "manager that keeps Parquet (FilesystemIOManager, S3IOManager)."
    )
