"""DuckDBIOManager: polars DataFrames as DuckDB tables, partitions as table slices.

Frames go in through Arrow (a registered view and one ``INSERT ... SELECT``), never row by row.
A partition write deletes exactly its time window and inserts the new rows in one transaction.
See docs/io-manager-duckdb.md.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import Field

from .core.context import asset_label, materialize_hint
from .core.errors import MetadataError, MissingDataError
from .core.frames import (
    check_no_drift,
    check_primary_key,
    decode_frame_schema,
    encode_frame_schema,
    restore_dtypes,
    select_columns,
)
from .core.locks import retry_while_locked
from .core.metadata import StorageMetadata, storage_metadata
from .core.naming import TableName, quote_identifier, resolve_table
from .core.output_metadata import build_output_metadata
from .core.partitions import (
    ColumnFilter,
    TemporalKind,
    build_where_clause,
    check_frame_in_selection,
    partition_selection,
    table_filters,
)
from .core.payloads import RefusedDtypes, ensure_loadable, ensure_supported

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

DEFAULT_SCHEMA = "main"
# Name of the Arrow-backed view of the incoming frame; local to the connection.
INCOMING_VIEW = "dagster_incoming_frame"
_LOCK_MESSAGE = "Could not set lock"
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

# polars dtypes DuckDB cannot store and give back exactly, refused before anything is written.
REFUSED_DTYPES = RefusedDtypes(
    {
        # DuckDB stores Duration as INTERVAL, which polars cannot read back.
        pl.Duration: "cast it to Int64 (e.g. pl.col(...).dt.total_microseconds())",
        pl.Int128: "cast it to Int64, or to pl.Decimal(38, 0)",
        pl.UInt128: "cast it to UInt64, or to pl.Decimal(38, 0)",
        pl.Float16: "cast it to Float32",
    },
    # DuckDB 2.0 fails on nested dictionary-encoded values, in one case with a fatal error that
    # invalidates the open database.
    nested={
        pl.Categorical: "cast the nested values to String (e.g. pl.List(pl.String))",
        pl.Enum: "cast the nested values to String (e.g. pl.List(pl.String))",
    },
    alternative="store it with FilesystemIOManager or S3IOManager (Parquet)",
)

_DICT_FIX = (
    "Store dict payloads with an IO manager that keeps dicts (FilesystemIOManager, S3IOManager "
    "or InMemoryIOManager; in this project io_manager_key='extract_io_manager'), or return a "
    "polars.DataFrame."
)


class DuckDBIOManager(ConfigurableIOManager):
    """Stores polars DataFrames as tables of a DuckDB file.

    Table: ``<schema>.<table>``; schema from asset metadata ``schema``, then this manager's
    ``schema``, then the asset key prefix, then ``main``; table from metadata ``table`` or the last
    part of the asset key. Partitioned assets need metadata ``partition_expr`` (the Date/Datetime
    column of the partition). ``write_mode`` overwrite (default), append or upsert (with
    ``primary_key``); ``columns`` on inputs selects columns.
    """

    db_path: str = Field(description="Path of the DuckDB database file (created on first write).")
    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Schema for tables whose asset metadata sets none (before the key prefix).",
    )
    lock_timeout_seconds: float = Field(
        default=60.0,
        description="How long to retry while another process holds the file's lock.",
    )

    # ---------------------------------------------------------------- connections

    @contextmanager
    def _connect(
        self, context: InputContext | OutputContext, *, read_only: bool
    ) -> Iterator[DuckDBPyConnection]:
        """A connection for one operation, closed afterwards so no process keeps the file."""
        import duckdb

        path = Path(self.db_path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)

        def open_connection() -> DuckDBPyConnection:
            connection = duckdb.connect(str(path), read_only=read_only)
            try:
                # Naive timestamps and window bounds are UTC; TIMESTAMPTZ comes back as UTC.
                _run(connection, "SET TimeZone = 'UTC'")
            except BaseException:
                connection.close()
                raise
            return connection

        retries: list[float] = []

        def log_retry(error: BaseException, wait: float) -> None:
            # One info line per operation; the rest at debug, so a long wait does not flood logs.
            log = context.log.debug if retries else context.log.info
            retries.append(wait)
            log(
                f"DuckDB file {path} is locked by another process; retrying for up to "
                f"{self.lock_timeout_seconds:g}s ({error})"
            )

        connection = retry_while_locked(
            open_connection,
            is_locked=lambda error: (
                isinstance(error, duckdb.IOException) and _LOCK_MESSAGE in str(error)
            ),
            timeout_seconds=self.lock_timeout_seconds,
            resource=f"DuckDB file {path}",
            holder=_lock_holder,
            on_retry=log_retry,
        )
        try:
            yield connection
        finally:
            connection.close()

    def _catalog(self) -> str:
        return Path(self.db_path).stem

    # ---------------------------------------------------------------- output

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        asset = asset_label(context)
        ensure_supported(
            obj,
            context=context,
            manager="DuckDBIOManager",
            supported=("frame",),
            fix=_DICT_FIX,
            refused=REFUSED_DTYPES,
        )
        frame: pl.DataFrame = obj
        meta = storage_metadata(context)
        table = resolve_table(
            context, config_schema=self.schema_, default_schema=DEFAULT_SCHEMA, meta=meta
        )
        selection = partition_selection(context)
        filters = table_filters(selection, meta, asset=asset) if selection is not None else ()
        check_frame_in_selection(frame, filters, asset=asset)
        if meta.write_mode == "upsert":
            check_primary_key(frame, meta.primary_key, asset=asset)
        # Every column name, not only the keys: statements name columns (append, upsert, drift).
        for name in (*frame.columns, *meta.primary_key, *(f.column for f in filters)):
            quote_identifier(name, f"column of asset {asset}")

        with self._connect(context, read_only=False) as connection:
            connection.register(INCOMING_VIEW, frame.to_arrow())
            try:
                connection.begin()
                try:
                    row_count = self._write(connection, table, frame, meta, filters, asset)
                    connection.commit()
                except BaseException:
                    connection.rollback()
                    raise
            finally:
                connection.unregister(INCOMING_VIEW)

        context.add_output_metadata(
            build_output_metadata(
                frame,
                partitioned=selection is not None,
                table_name=table.display(self._catalog()),
                row_count=row_count,
                write_mode=meta.write_mode,
            )
        )

    def _write(
        self,
        connection: DuckDBPyConnection,
        table: TableName,
        frame: pl.DataFrame,
        meta: StorageMetadata,
        filters: Sequence[ColumnFilter],
        asset: str,
    ) -> int:
        """Write inside the caller's transaction; return the rows of the slice (or table) after."""
        target = table.quoted
        replace_table = meta.write_mode == "overwrite" and not filters
        # An unpartitioned overwrite replaces whatever is there: no catalog lookup needed.
        info = None if replace_table else _table_info(connection, table)
        if info is None or replace_table:
            # A new table, or an unpartitioned overwrite: the frame defines the table.
            _run(connection, f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(table.schema)}")
            # S608: the table name is validated and quoted; the view name is a constant.
            create = f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {INCOMING_VIEW}"  # noqa: S608
            _run(connection, create)
            # The comment keeps the polars dtypes that DuckDB types do not carry (ms vs us
            # timestamps with time zone, categoricals, enums); it is base64, so it has no quotes.
            comment = encode_frame_schema(frame.schema).replace("'", "''")
            _run(connection, f"COMMENT ON TABLE {target} IS '{comment}'")
        else:
            column_types, written = info
            self._check_drift(connection, table, column_types, written, frame, asset)
            if meta.write_mode == "overwrite":
                where, params = build_where_clause(
                    filters, temporal_kind=_kinds(column_types, asset)
                )
                # S608: identifiers validated and quoted; window bounds are bound parameters.
                _run(connection, f"DELETE FROM {target} WHERE {where}", params)  # noqa: S608
            elif meta.write_mode == "upsert":
                matches = " AND ".join(
                    f"source.{quote_identifier(c)} = target.{quote_identifier(c)}"
                    for c in meta.primary_key
                )
                # S608: the table and key columns are validated and quoted identifiers.
                delete = (
                    f"DELETE FROM {target} AS target WHERE EXISTS "  # noqa: S608
                    f"(SELECT 1 FROM {INCOMING_VIEW} AS source WHERE {matches})"
                )
                _run(connection, delete)
            # BY NAME matches columns by name, whatever their order in the frame.
            insert = f"INSERT INTO {target} BY NAME SELECT * FROM {INCOMING_VIEW}"  # noqa: S608
            _run(connection, insert)

        if meta.write_mode == "overwrite":
            return frame.height  # the slice (or table) holds exactly the frame now
        column_types = _column_types(connection, table)
        where, params = build_where_clause(filters, temporal_kind=_kinds(column_types, asset))
        count = f"SELECT count(*) FROM {target} WHERE {where}"  # noqa: S608 - quoted, bound
        rows = _run(connection, count, params)
        return int(rows[0][0])

    @staticmethod
    def _check_drift(
        connection: DuckDBPyConnection,
        table: TableName,
        column_types: dict[str, str],
        written: pl.Schema | None,
        frame: pl.DataFrame,
        asset: str,
    ) -> None:
        where = f"table {table.display()}"
        if written is not None and list(written) == list(column_types):
            check_no_drift(written, frame.schema, asset=asset, where=where)
            return
        # Table made outside this manager (or altered since): compare DuckDB types.
        describe = f"DESCRIBE SELECT * FROM {INCOMING_VIEW}"  # noqa: S608 - constant view name
        incoming = {row[0]: row[1] for row in _run(connection, describe)}
        check_no_drift(column_types, incoming, asset=asset, where=where, compatible=operator.eq)

    # ---------------------------------------------------------------- input

    def load_input(self, context: InputContext) -> pl.DataFrame:
        asset = asset_label(context)
        ensure_loadable(context, manager="DuckDBIOManager", supported=("frame",), fix=_DICT_FIX)
        meta = storage_metadata(context)
        table = resolve_table(
            context, config_schema=self.schema_, default_schema=DEFAULT_SCHEMA, meta=meta
        )
        selection = partition_selection(context)
        filters = table_filters(selection, meta, asset=asset) if selection is not None else ()
        first_key = selection.keys[0] if selection is not None and selection.keys else None
        hint = f"{materialize_hint(asset, first_key)} Or check db_path ({self.db_path!r})."
        if not Path(self.db_path).exists():
            raise MissingDataError(
                f"Cannot load asset {asset}: the DuckDB file {self.db_path} does not exist. {hint}"
            )

        with self._connect(context, read_only=True) as connection:
            info = _table_info(connection, table)
            if info is None:
                raise MissingDataError(
                    f"Cannot load asset {asset}: table {table.display()} does not exist in "
                    f"{self.db_path}. {hint}"
                )
            column_types, written = info
            columns = select_columns(
                list(column_types), meta.columns, asset=asset, where=f"table {table.display()}"
            )
            selected = ", ".join(quote_identifier(c) for c in columns) if columns else "*"
            where, params = build_where_clause(filters, temporal_kind=_kinds(column_types, asset))
            # S608: identifiers validated and quoted; window bounds are bound parameters.
            query = f"SELECT {selected} FROM {table.quoted} WHERE {where}"  # noqa: S608
            context.log.debug(f"Loading {asset}: {query} {params}")
            frame = connection.sql(query, params=params).pl()
        return restore_dtypes(frame, written)


# -------------------------------------------------------------------- helpers


def _run(
    connection: DuckDBPyConnection, statement: str, params: Sequence[Any] | None = None
) -> list[tuple[Any, ...]]:
    """Execute and drain the result: duckdb 2 refuses new work while a result is pending."""
    return connection.execute(statement, list(params) if params else None).fetchall()


def _column_types(connection: DuckDBPyConnection, table: TableName) -> dict[str, str]:
    rows = _run(
        connection,
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE lower(schema_name) = lower(?) AND lower(table_name) = lower(?) "
        "ORDER BY column_index",
        [table.schema, table.table],
    )
    return {name: data_type for name, data_type in rows}


def _table_info(
    connection: DuckDBPyConnection, table: TableName
) -> tuple[dict[str, str], pl.Schema | None] | None:
    """Column types and the written polars schema of a table; ``None`` if it does not exist."""
    # DuckDB matches identifiers case-insensitively, so the lookup does too.
    rows = _run(
        connection,
        "SELECT comment FROM duckdb_tables() "
        "WHERE lower(schema_name) = lower(?) AND lower(table_name) = lower(?)",
        [table.schema, table.table],
    )
    if not rows:
        return None
    return _column_types(connection, table), decode_frame_schema(rows[0][0])


def _kinds(column_types: dict[str, str], asset: str) -> Callable[[str], TemporalKind]:
    """The temporal kind of a partition column, from its DuckDB type (for binding bounds)."""

    def kind(column: str) -> TemporalKind:
        data_type = column_types.get(column)
        if data_type is None:
            raise MetadataError(
                f"Asset {asset}: partition_expr column {column!r} is not in the table "
                f"(columns: {', '.join(column_types)})."
            )
        if data_type == "DATE":
            return "date"
        if data_type in {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}:
            return "timestamptz"
        if data_type.startswith("TIMESTAMP"):
            return "timestamp"
        raise MetadataError(
            f"Asset {asset}: partition_expr column {column!r} has type {data_type}; a time "
            "partition needs a DATE or TIMESTAMP column."
        )

    return kind


def _lock_holder(error: BaseException) -> str | None:
    match = _LOCK_HOLDER.search(str(error))
    if match is None:
        return None
    return f"PID {match['pid']}, {match['program']}"
