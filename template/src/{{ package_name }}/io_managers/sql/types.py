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
    """How one polars dtype is stored: the SQL type of each backend.

    Example::

        ColumnType(postgres="bigint", sqlite="INTEGER")
    """

    postgres: str
    sqlite: str


# Dtypes whose column type does not depend on their parameters.
_SIMPLE_TYPES: tuple[tuple[tuple[type[pl.DataType], ...], ColumnType], ...] = (
    ((pl.Boolean,), ColumnType("boolean", "BOOLEAN")),
    ((pl.Int8, pl.Int16, pl.UInt8), ColumnType("smallint", "INTEGER")),
    ((pl.Int32, pl.UInt16), ColumnType("integer", "INTEGER")),
    ((pl.Int64, pl.UInt32), ColumnType("bigint", "INTEGER")),
    ((pl.UInt64,), ColumnType("numeric(20,0)", "TEXT")),
    ((pl.Float32,), ColumnType("real", "REAL")),
    ((pl.Float64,), ColumnType("double precision", "REAL")),
    ((pl.String, pl.Categorical), ColumnType("text", "TEXT")),
    ((pl.Binary,), ColumnType("bytea", "BLOB")),
    ((pl.Date,), ColumnType("date", "DATE")),
    ((pl.Time,), ColumnType("time without time zone", "TIME")),
    ((pl.Null,), ColumnType("text", "TEXT")),
)


def column_type(dtype: pl.DataType, *, column: str, asset: str) -> ColumnType:
    """The SQL types of a polars dtype, or :class:`UnsupportedTypeError` naming the column.

    PostgreSQL type names are spelled as ``format_type()`` prints them, so a table's types can be
    compared with the frame's. SQLite names are chosen for their type affinity (see SQLite's
    "Datatypes" page): TEXT where the value is text that must not be converted to a number.
    """
    for dtypes, stored in _SIMPLE_TYPES:
        if dtype in dtypes:
            return stored
    if isinstance(dtype, pl.Decimal):
        return ColumnType(f"numeric({dtype.precision},{dtype.scale})", "TEXT")
    if isinstance(dtype, pl.Enum):
        return ColumnType("text", "TEXT")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return ColumnType("timestamp without time zone", "TIMESTAMP")
        return ColumnType("timestamp with time zone", "TIMESTAMPTZ")
    if isinstance(dtype, pl.Duration):
        return ColumnType("interval", "INTERVAL")
    raise UnsupportedTypeError(
        f"{MANAGER} cannot store column {column!r} of asset {asset}: polars dtype {dtype} has no "
        "SQL column type in its type map. Convert it first (nested values: e.g. "
        "pl.col(...).struct.json_encode() or cast to String), or store the frame with an IO "
        "manager that keeps Parquet (FilesystemIOManager, S3IOManager)."
    )
