"""The PostgreSQL client of SQLIOManager.

Frames go in through ``COPY ... FROM STDIN (FORMAT binary)`` (:mod:`.copy_binary`) and come out
through ``COPY ... TO STDOUT (FORMAT csv)`` parsed by polars. The written polars schema is kept
as the table's comment; parallel first writes are serialized by an advisory lock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from ..core.errors import UnsupportedTypeError
from ..core.frames import encode_frame_schema
from ..core.naming import TableName, quote_identifier
from ..tables.client import FrameWrite, SliceRead, TableInfo, Types
from ..tables.statements import merge_statements
from .common import SQLClient
from .connection import SQLSession, trusted_sql
from .copy_binary import encode_copy_binary
from .types import MANAGER, ColumnType

# Session-local staging table of upserts (dropped on commit).
STAGE_TABLE = "dagster_incoming_frame"
# The stored-schema text is ``dagster-polars-schema:v1:<base64>``; it is checked against this
# before it is written as a SQL literal (COMMENT ON takes no bound parameters).
_SCHEMA_TEXT = re.compile(r"[A-Za-z0-9:+/=-]+")


class PostgresClient(SQLClient):
    """PostgreSQL behind the table-store interface (COPY in and out, comments, advisory locks).

    Example::

        client = PostgresClient(connection)
        TableStore(client, config_schema="market").handle_output(context, frame)
    """

    default_schema = "public"
    placeholder = "%s"
    dialect = "postgres"

    def display_name(self, table: TableName) -> str:
        return table.display(self.connection.database)

    def sql_type(self, column: ColumnType) -> str:
        return column.postgres

    def check_values(self, frame: pl.DataFrame, asset: str) -> None:
        _check_microseconds(frame, asset)

    def table_info(self, session: SQLSession, table: TableName) -> TableInfo | None:
        found = session.execute(
            "SELECT c.oid, obj_description(c.oid, 'pg_class') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            [table.schema, table.table],
        )
        if not found:
            return None
        oid, comment = found[0]
        columns = session.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [oid],
        )
        keys = session.execute(
            "SELECT array_agg(a.attname::text) FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s AND i.indisunique AND i.indpred IS NULL "
            "GROUP BY i.indexrelid",
            [oid],
        )
        return TableInfo(
            column_types={name: data_type for name, data_type in columns},
            stored_schema_text=comment,
            unique_keys=[frozenset(names) for (names,) in keys],
        )

    def ensure_schema(self, session: SQLSession, table: TableName) -> None:
        exists = session.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [table.schema])
        if not exists:
            session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(table.schema)}")

    def store_schema(
        self, session: SQLSession, table: TableName, schema: Mapping[str, pl.DataType]
    ) -> None:
        # The comment keeps the polars dtypes SQL types do not carry (Int8 vs Int16, UInt32,
        # ms vs us, categoricals). COMMENT takes no bound parameters; the text is base64, and
        # checked to be, so it cannot leave its quotes.
        text = encode_frame_schema(schema)
        if not _SCHEMA_TEXT.fullmatch(text):
            raise ValueError("encoded frame schema has unexpected characters")
        session.execute(f"COMMENT ON TABLE {table.quoted} IS '{text}'")

    def lock_for_create(self, session: SQLSession, table: TableName) -> bool:
        # A transaction-scoped advisory lock, keyed on the schema (which may be new too).
        digest = hashlib.blake2b(f"dagster-sql-io-manager:{table.schema}".encode(), digest_size=8)
        key = int.from_bytes(digest.digest(), "big", signed=True)
        session.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        return True

    def empty_table(self, session: SQLSession, table: TableName) -> None:
        # TRUNCATE is transactional in PostgreSQL and much faster than DELETE on large tables.
        session.execute(f"TRUNCATE {table.quoted}")

    def insert(self, session: SQLSession, table: TableName, frame: pl.DataFrame) -> None:
        self._copy_in(session, table.quoted, frame)

    def _copy_in(self, session: SQLSession, target: str, frame: pl.DataFrame) -> None:
        names = ", ".join(quote_identifier(c) for c in frame.columns)
        # Validated, quoted identifiers only; the data goes in the COPY stream.
        statement = trusted_sql(f"COPY {target} ({names}) FROM STDIN (FORMAT binary)")
        with session.postgres_driver().cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in encode_copy_binary(frame):
                copy.write(chunk)

    def upsert(self, session: SQLSession, write: FrameWrite, types: Types, info: TableInfo) -> None:
        stage = quote_identifier(STAGE_TABLE)
        session.execute(f"DROP TABLE IF EXISTS {stage}")
        session.execute(f"{self.stage_statement(stage, write, types)} ON COMMIT DROP")
        self._copy_in(session, stage, write.frame)
        key = write.primary_key
        for statement in merge_statements(
            write.table.quoted,
            stage,
            write.frame.columns,
            key,
            on_conflict=info.has_unique_key(key),
        ):
            session.execute(statement)

    def read(self, session: SQLSession, request: SliceRead) -> pl.DataFrame:
        types = request.info.column_types
        plan = [_pg_read_column(name, types[name]) for name in request.columns]
        select = ", ".join(column.select for column in plan)
        quoted = [quote_identifier(column.name) for column in plan if column.force_quote]
        # FORCE_QUOTE tells an empty string ("") from NULL (an empty field) in the CSV.
        force_quote = f", FORCE_QUOTE ({', '.join(quoted)})" if quoted else ""
        query = f"SELECT {select} FROM {request.table.quoted} WHERE {request.where}"  # noqa: S608
        # COPY takes no bound parameters, so the bounds are bound client-side by psycopg.
        from psycopg import ClientCursor

        driver = session.postgres_driver()
        with ClientCursor(driver) as cursor:
            bound = cursor.mogrify(
                trusted_sql(query), tuple(request.params) if request.params else None
            )
        data = bytearray()
        with driver.cursor() as cursor:
            copy_sql = trusted_sql(f"COPY ({bound}) TO STDOUT (FORMAT csv{force_quote})")
            with cursor.copy(copy_sql) as copy:
                for chunk in copy:
                    data += chunk
        wire_schema = {column.name: column.wire_dtype for column in plan}
        if data:
            frame = pl.read_csv(
                bytes(data),
                has_header=False,
                schema=wire_schema,
                infer_schema=False,
            )
        else:
            frame = pl.DataFrame(schema=wire_schema)
        return frame.select(column.decode for column in plan)


@dataclass(frozen=True)
class _ReadColumn:
    """How a column leaves PostgreSQL (``select``), travels (``wire_dtype``) and is decoded."""

    name: str
    select: str
    wire_dtype: pl.DataType
    decode: pl.Expr
    force_quote: bool = False


_NUMERIC_TYPE = re.compile(r"numeric\((\d+),(\d+)\)")
_PG_SIMPLE_TYPES: dict[str, pl.DataType] = {
    "smallint": pl.Int16(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "real": pl.Float32(),
    "double precision": pl.Float64(),
}


def _pg_read_column(name: str, data_type: str) -> _ReadColumn:
    """The read plan of one column: values leave PostgreSQL as CSV that polars parses fast."""
    column = quote_identifier(name)
    col = pl.col(name)
    # Microseconds since the Unix epoch: exact, and independent of DateStyle/TimeZone settings.
    epoch_us = f"(extract(epoch FROM {column}) * 1000000)::int8 AS {column}"
    if data_type in _PG_SIMPLE_TYPES:
        return _ReadColumn(name, column, _PG_SIMPLE_TYPES[data_type], col)
    if data_type == "boolean":
        return _ReadColumn(name, f"{column}::int4 AS {column}", pl.Int32(), col.cast(pl.Boolean))
    if match := _NUMERIC_TYPE.fullmatch(data_type):
        precision, scale = int(match[1]), int(match[2])
        return _ReadColumn(name, column, pl.String(), col.cast(pl.Decimal(precision, scale)))
    if data_type == "numeric":
        return _ReadColumn(name, column, pl.String(), col.cast(pl.Float64))
    if data_type == "bytea":
        select = f"encode({column}, 'hex') AS {column}"
        return _ReadColumn(name, select, pl.String(), col.str.decode("hex"), force_quote=True)
    if data_type == "date":
        select = f"({column} - DATE '1970-01-01') AS {column}"
        return _ReadColumn(name, select, pl.Int32(), col.cast(pl.Date))
    if data_type == "timestamp with time zone":
        return _ReadColumn(name, epoch_us, pl.Int64(), col.cast(pl.Datetime("us", "UTC")))
    if data_type == "timestamp without time zone":
        return _ReadColumn(name, epoch_us, pl.Int64(), col.cast(pl.Datetime("us")))
    if data_type == "time without time zone":
        return _ReadColumn(name, epoch_us, pl.Int64(), (col * 1000).cast(pl.Time))
    if data_type == "interval":
        return _ReadColumn(name, epoch_us, pl.Int64(), col.cast(pl.Duration("us")))
    # text, varchar, and anything else (json, uuid, arrays ...) as its text form.
    return _ReadColumn(name, f"{column}::text AS {column}", pl.String(), col, force_quote=True)


def _check_microseconds(frame: pl.DataFrame, asset: str) -> None:
    """PostgreSQL keeps microseconds: refuse nanosecond values it would silently round."""
    for name, dtype in frame.schema.items():
        nanoseconds = dtype == pl.Time or (
            isinstance(dtype, pl.Datetime | pl.Duration) and dtype.time_unit == "ns"
        )
        if not nanoseconds:
            continue
        lossy = frame.select((pl.col(name).to_physical() % 1000 != 0).any()).item()
        if lossy:
            raise UnsupportedTypeError(
                f"{MANAGER} cannot store column {name!r} of asset {asset} in PostgreSQL without "
                "losing data: it holds sub-microsecond values and PostgreSQL keeps microseconds. "
                f'Truncate them first, e.g. pl.col("{name}").dt.truncate("1us") or '
                "cast to a microsecond time unit."
            )
