"""The SQLite client of SQLIOManager.

SQLite has no schemas (another schema becomes a ``<schema>__`` table-name prefix) and few types:
dates and timestamps are stored as fixed-width text (so they order), durations as integers, and
the written polars schemas are kept in a table of the same file. Inserts are one
``executemany`` per write, inside one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ..core.errors import UnsupportedTypeError
from ..core.expressions import SQLITE_TIMESTAMP_DIGITS
from ..core.frames import encode_frame_schema
from ..core.naming import TableName, quote_identifier, validate_identifier
from ..core.partitions import ColumnFilter, build_where_clause
from ..tables.client import (
    FrameWrite,
    SliceRead,
    TableInfo,
    Types,
    check_filter_columns,
)
from ..tables.statements import merge_statements
from .common import SQLClient
from .connection import SQLSession
from .types import MANAGER, ColumnType

# Staging table of upserts (in the connection's temp schema, dropped after use).
STAGE_TABLE = "dagster_incoming_frame"
# SQLite has no schemas: it keeps the written polars schemas in this table of the same file.
SQLITE_SCHEMA_TABLE = "dagster_polars_schemas"
_TIME_UNIT_DIGITS = {"ms": 3, "us": 6, "ns": 9}


class SQLiteClient(SQLClient):
    """SQLite behind the table-store interface (text dates, schema table, executemany).

    Example::

        client = SQLiteClient(connection)
        TableStore(client, config_schema=None).load_input(context)
    """

    default_schema = "main"
    dialect = "sqlite"

    def missing_storage(self, asset: str, hint: str) -> str | None:
        path = self.connection.database
        if Path(path).exists():
            return None
        return (
            f"Cannot load asset {asset}: the SQLite file {path} does not exist. "
            f"{hint} Or check db_name ({path!r})."
        )

    def physical_name(self, table: TableName) -> str:
        """SQLite has no schemas: a schema other than ``main`` prefixes the table name."""
        if table.schema == self.default_schema:
            return table.table
        return validate_identifier(
            f"{table.schema}__{table.table}", f"SQLite table name of {table.display()}"
        )

    def quoted(self, table: TableName) -> str:
        return quote_identifier(self.physical_name(table))

    def display_name(self, table: TableName) -> str:
        return f"{Path(self.connection.database).stem}.main.{self.physical_name(table)}"

    def sql_type(self, column: ColumnType) -> str:
        return column.sqlite

    def check_values(self, frame: pl.DataFrame, asset: str) -> None:
        floats = [name for name, dtype in frame.schema.items() if dtype in (pl.Float32, pl.Float64)]
        if not floats:
            return
        counts = frame.select(pl.col(floats).is_nan().sum()).row(0)
        with_nan = [name for name, count in zip(floats, counts, strict=True) if count]
        if with_nan:
            raise UnsupportedTypeError(
                f"{MANAGER} cannot store NaN in SQLite for asset {asset} (column(s) "
                f"{', '.join(with_nan)}): SQLite turns NaN into NULL. Replace NaN first, e.g. "
                "pl.col(...).fill_nan(None), or use PostgreSQL."
            )

    def table_info(self, session: SQLSession, table: TableName) -> TableInfo | None:
        name = self.physical_name(table)
        columns = session.execute("SELECT name, type FROM pragma_table_info(?)", [name])
        if not columns:
            return None
        stored = session.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [SQLITE_SCHEMA_TABLE]
        )
        schema_text = None
        if stored:
            rows = session.execute(
                f"SELECT polars_schema FROM {quote_identifier(SQLITE_SCHEMA_TABLE)} "  # noqa: S608
                "WHERE table_name = ?",
                [name],
            )
            schema_text = rows[0][0] if rows else None
        unique_keys = []
        for (index,) in session.execute(
            'SELECT name FROM pragma_index_list(?) WHERE "unique"', [name]
        ):
            key = session.execute("SELECT name FROM pragma_index_info(?)", [index])
            unique_keys.append(frozenset(c for (c,) in key))
        return TableInfo(
            column_types={column: data_type for column, data_type in columns},
            stored_schema_text=schema_text,
            unique_keys=unique_keys,
        )

    def add_column(
        self, session: SQLSession, table: TableName, column: str, data_type: str
    ) -> None:
        # SQLite has no ADD COLUMN IF NOT EXISTS; its writers are serialized (BEGIN IMMEDIATE).
        session.execute(
            f"ALTER TABLE {self.quoted(table)} ADD COLUMN {quote_identifier(column)} {data_type}"
        )

    def store_schema(
        self, session: SQLSession, table: TableName, schema: Mapping[str, pl.DataType]
    ) -> None:
        schemas = quote_identifier(SQLITE_SCHEMA_TABLE)
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {schemas} "
            "(table_name TEXT PRIMARY KEY, polars_schema TEXT NOT NULL)"
        )
        session.execute(
            f"INSERT INTO {schemas} (table_name, polars_schema) VALUES (?, ?) "  # noqa: S608
            "ON CONFLICT (table_name) DO UPDATE SET polars_schema = excluded.polars_schema",
            [self.physical_name(table), encode_frame_schema(schema)],
        )

    def insert(self, session: SQLSession, table: TableName, frame: pl.DataFrame) -> None:
        self._insert(session, self.quoted(table), frame)

    def _insert(self, session: SQLSession, target: str, frame: pl.DataFrame) -> None:
        names = ", ".join(quote_identifier(c) for c in frame.columns)
        markers = ", ".join("?" for _ in frame.columns)
        statement = f"INSERT INTO {target} ({names}) VALUES ({markers})"  # noqa: S608 - quoted
        stored = frame.select(_sqlite_value(name, dtype) for name, dtype in frame.schema.items())
        cursor = session.sqlite_driver().cursor()
        try:
            cursor.executemany(statement, stored.iter_rows())
        finally:
            cursor.close()

    def upsert(self, session: SQLSession, write: FrameWrite, types: Types, info: TableInfo) -> None:
        stage = f"temp.{quote_identifier(STAGE_TABLE)}"
        session.execute(f"DROP TABLE IF EXISTS {stage}")
        session.execute(self.stage_statement(stage, write, types))
        self._insert(session, stage, write.frame)
        # "WHERE true" resolves SQLite's parsing ambiguity of INSERT ... SELECT ... ON CONFLICT.
        for statement in merge_statements(
            self.quoted(write.table),
            stage,
            write.frame.columns,
            write.primary_key,
            on_conflict=info.has_unique_key(write.primary_key),
            source_filter=" WHERE true",
        ):
            session.execute(statement)
        session.execute(f"DROP TABLE {stage}")

    def where(
        self, filters: Sequence[ColumnFilter], info: TableInfo, asset: str
    ) -> tuple[str, list[Any]]:
        """Like the base, with bounds as the text the column stores (fixed width, so ordered)."""
        if not filters:
            return "TRUE", []
        stored = info.polars_schema() or {}
        clauses: list[str] = []
        params: list[Any] = []
        for column_filter in filters:
            column = column_filter.column
            check_filter_columns(column_filter, info, asset)
            if column_filter.expr is not None:
                # Expressions give text timestamps with milliseconds (see core.expressions).
                kind, digits = column_filter.expr.kind, SQLITE_TIMESTAMP_DIGITS
            else:
                kind = self.temporal_kind(info, column, asset) if column_filter.windows else None
                dtype = stored.get(column)
                digits = _TIME_UNIT_DIGITS[dtype.time_unit] if isinstance(dtype, pl.Datetime) else 6
            clause, values = build_where_clause(
                [column_filter],
                temporal_kind=lambda _column, kind=kind: kind or "timestamp",
                placeholder=lambda _index: "?",
                dialect=self.dialect,
            )
            clauses.append(clause)
            params.extend(_sqlite_bound(value, digits) for value in values)
        return " AND ".join(clauses), params

    def read(self, session: SQLSession, request: SliceRead) -> pl.DataFrame:
        columns, info = request.columns, request.info
        names = ", ".join(quote_identifier(c) for c in columns)
        table = self.quoted(request.table)
        query = f"SELECT {names} FROM {table} WHERE {request.where}"  # noqa: S608 - quoted
        rows = session.execute(query, request.params)
        stored = info.polars_schema() or {}
        values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        series, decoders = [], []
        for name, column_values in zip(columns, values, strict=True):
            storage, decode = _sqlite_decoder(name, stored.get(name), info.column_types[name])
            series.append(pl.Series(name, list(column_values), dtype=storage))
            decoders.append(decode)
        return pl.DataFrame(series).select(decoders)


def _sqlite_value(name: str, dtype: pl.DataType) -> pl.Expr:
    """The value SQLite stores for a column: numbers and bytes as they are, the rest as text."""
    col = pl.col(name)
    if dtype == pl.UInt64 or isinstance(dtype, pl.Decimal):
        return col.cast(pl.String)
    if dtype in (pl.Categorical,) or isinstance(dtype, pl.Enum):
        return col.cast(pl.String)
    if dtype == pl.Date:
        return col.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return col.dt.strftime(f"%Y-%m-%d %H:%M:%S%.{_TIME_UNIT_DIGITS[dtype.time_unit]}f")
    if dtype == pl.Time:
        return col.dt.strftime("%H:%M:%S%.9f")
    if isinstance(dtype, pl.Duration):
        return col.to_physical()
    return col


def _sqlite_decoder(
    name: str, dtype: pl.DataType | None, declared: str
) -> tuple[pl.DataType, pl.Expr]:
    """The polars dtype SQLite's values arrive in, and the expression restoring the column."""
    col = pl.col(name)
    if dtype is None:  # a table made outside this manager: go by the declared type's affinity
        upper = declared.upper()
        if "INT" in upper:
            return pl.Int64(), col
        if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
            return pl.Float64(), col
        if "BLOB" in upper or not upper:
            return pl.Binary(), col
        return pl.String(), col
    if dtype == pl.Boolean:
        return pl.Int64(), col.cast(pl.Boolean)
    if dtype.is_integer() and dtype != pl.UInt64:
        return pl.Int64(), col
    if dtype in (pl.Float32, pl.Float64):
        return pl.Float64(), col
    if dtype == pl.Binary:
        return pl.Binary(), col
    if dtype == pl.Null:
        return pl.Null(), col
    if dtype == pl.Date:
        return pl.String(), col.str.to_date("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        parsed = col.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit=dtype.time_unit)
        if dtype.time_zone is not None:
            parsed = parsed.dt.replace_time_zone("UTC")
        return pl.String(), parsed
    if dtype == pl.Time:
        return pl.String(), col.str.to_time("%H:%M:%S%.f")
    if isinstance(dtype, pl.Duration):
        return pl.Int64(), col.cast(dtype)
    # UInt64, Decimal, String, Categorical, Enum: text, cast back by restore_dtypes.
    return pl.String(), col


def _sqlite_bound(value: Any, digits: int) -> Any:
    """A partition bound in the text form SQLite stores dates and timestamps in."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        fraction = f"{value.microsecond:06d}000"[:digits]
        return f"{value:%Y-%m-%d %H:%M:%S}.{fraction}" if digits else f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
