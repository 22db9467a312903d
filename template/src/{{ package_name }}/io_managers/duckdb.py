"""DuckDBIOManager: polars DataFrames as DuckDB tables, partitions as table slices.

Frames go in through Arrow (a registered view and one ``INSERT ... BY NAME SELECT``), never row
by row, and come out through Arrow. Every write is one transaction of the shared table-store
algorithm (:class:`.tables.TableStore`); this module is the DuckDB client under it, and the
manager's configuration. See docs/io-manager-duckdb.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl
from pydantic import Field

from .core.frames import encode_frame_schema
from .core.naming import TableName, quote_identifier
from .core.payloads import RefusedDtypes
from .duckdb_connection import (
    DuckDBConnector,
    connection_config_field,
    connection_settings,
    lock_timeout_field,
    memory_limit_field,
    quote_catalog,
    temp_directory_field,
    threads_field,
)
from .tables import FrameWrite, SliceRead, TableClient, TableInfo, TableIOManager
from .tables.client import Context, Param, Row, Types

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

T = TypeVar("T")
DEFAULT_SCHEMA = "main"
# Name of the Arrow-backed view of the incoming frame; local to the connection.
INCOMING_VIEW = "dagster_incoming_frame"

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


class DuckDBIOManager(TableIOManager):
    """Stores polars DataFrames as tables of a DuckDB file.

    Table: ``<catalog>.<schema>.<table>``, the catalog being the one DuckDB names after the file
    (so ``market.duckdb`` holding ``market/*`` assets is never ambiguous); schema from asset
    metadata ``schema``, then this manager's ``schema``, then the asset key prefix, then
    ``main``; table from metadata ``table`` or the last part of the asset key. Partitioned
    assets need metadata ``partition_expr`` (the Date/Datetime column of the partition).
    ``write_mode`` overwrite (default), append or upsert (with ``primary_key``); ``columns`` on
    inputs selects columns. ``memory_limit``, ``threads``,
    ``temp_directory`` and ``connection_config`` (any other DuckDB setting) apply to each
    connection.

    Example::

        import dagster as dg

        @dg.asset(
            partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"),
            metadata={"partition_expr": "ts"},
            io_manager_key="transform_io_manager",
        )
        def ohlcv(context: dg.AssetExecutionContext) -> pl.DataFrame: ...

        defs = dg.Definitions(
            assets=[ohlcv],
            resources={
                "transform_io_manager": DuckDBIOManager(
                    db_path="data/crypto.duckdb", memory_limit="4GB", threads=2
                )
            },
        )
    """

    db_path: str = Field(description="Path of the DuckDB database file (created on first write).")
    lock_timeout_seconds: float = lock_timeout_field()
    memory_limit: str | None = memory_limit_field()
    threads: int | None = threads_field()
    temp_directory: str | None = temp_directory_field()
    connection_config: dict[str, Any] = connection_config_field()

    def connector(self) -> DuckDBConnector:
        """Opens this manager's file with its settings and lock waits (one per operation)."""
        settings = connection_settings(
            memory_limit=self.memory_limit,
            threads=self.threads,
            temp_directory=self.temp_directory,
            connection_config=self.connection_config,
            owner="DuckDBIOManager",
        )
        return DuckDBConnector(self.db_path, self.lock_timeout_seconds, settings)

    def client(self) -> DuckDBClient:
        return DuckDBClient(connector=self.connector())


# -------------------------------------------------------------------- the client


class DuckDBSession:
    """One connection in one transaction; the incoming frame is an Arrow view, registered once.

    Example::

        session = DuckDBSession(connection)
        session.execute(f"INSERT INTO t BY NAME SELECT * FROM {session.incoming(frame)}")
        session.release()
    """

    def __init__(self, connection: DuckDBPyConnection) -> None:
        self.connection = connection
        self._registered: pl.DataFrame | None = None

    def execute(self, statement: str, params: Sequence[Param] = ()) -> list[Row]:
        return _run(self.connection, statement, params)

    def incoming(self, frame: pl.DataFrame) -> str:
        """The name of a view of ``frame`` (zero-copy Arrow) for ``SELECT`` statements."""
        if self._registered is not frame:
            self.connection.register(INCOMING_VIEW, frame.to_arrow())
            self._registered = frame
        return INCOMING_VIEW

    def release(self) -> None:
        if self._registered is not None:
            self.connection.unregister(INCOMING_VIEW)
            self._registered = None


class DuckDBClient(TableClient[DuckDBSession]):
    """DuckDB behind the table-store interface: Arrow in and out, lock waits, comments.

    Where DuckDB differs from the SQL clients, two attributes say so (docs/io-managers.md):

    - ``key_constraints = False``: it creates no PRIMARY KEY constraint (an ART index would slow
      every insert); upserts delete the matching rows, then insert, in one transaction;
    - ``keeps_table_on_overwrite = False``: an unpartitioned overwrite always recreates the table
      from the frame (``DROP`` + ``CREATE TABLE AS``, one transaction), because emptying a DuckDB
      table marks every row deleted (about 40% slower on a million rows), and DuckDB has no grants
      and binds views by name, so nothing attached to the table is lost.

    Example::

        client = DuckDBClient("data/crypto.duckdb", lock_timeout_seconds=60)
        TableStore(client, config_schema=None).handle_output(context, frame)
    """

    manager = "DuckDBIOManager"
    default_schema = DEFAULT_SCHEMA
    refused = REFUSED_DTYPES
    key_constraints = False
    keeps_table_on_overwrite = False

    def __init__(
        self,
        db_path: str | None = None,
        *,
        lock_timeout_seconds: float = 60.0,
        connector: DuckDBConnector | None = None,
    ) -> None:
        if connector is None:
            if db_path is None:
                raise TypeError("DuckDBClient needs db_path or connector")
            connector = DuckDBConnector(db_path, lock_timeout_seconds)
        self.connector = connector
        self.db_path = connector.db_path

    # ---------------------------------------------------------------- connections

    def run(self, work: Callable[[DuckDBSession], T], *, write: bool, context: Context) -> T:
        with self.connector.connect(read_only=not write, log=context.log) as connection:
            session = DuckDBSession(connection)
            try:
                if not write:
                    return work(session)
                connection.begin()
                try:
                    result = work(session)
                    connection.commit()
                except BaseException:
                    connection.rollback()
                    raise
                return result
            finally:
                session.release()

    def missing_storage(self, asset: str, hint: str) -> str | None:
        if self.connector.is_empty_file():
            return (
                f"Cannot load asset {asset}: the DuckDB file {self.db_path} is empty (0 bytes, "
                f"no table yet). {hint}"
            )
        if Path(self.db_path).exists():
            return None
        return f"Cannot load asset {asset}: the DuckDB file {self.db_path} does not exist. {hint}"

    def location(self) -> str:
        return self.db_path

    def load_hint(self) -> str:
        return f"Or check db_path ({self.db_path!r})."

    # ---------------------------------------------------------------- names and types

    def quoted(self, table: TableName) -> str:
        """``"catalog"."schema"."table"``: a schema named like the file's catalog (``market``
        in ``market.duckdb``) would make ``"market"."ohlcv"`` ambiguous."""
        return f"{self._catalog()}.{table.quoted}"

    def _catalog(self) -> str:
        catalog = self.connector.catalog
        assert catalog is not None, "statements are built inside run(), after connecting"
        return quote_catalog(catalog)

    def display_name(self, table: TableName) -> str:
        # DuckDB's fully qualified name; the catalog is the one DuckDB named after the file.
        return table.display(self.connector.catalog or Path(self.db_path).stem.split(".")[0])

    def frame_types(
        self, session: DuckDBSession, frame: pl.DataFrame, asset: str
    ) -> dict[str, str]:
        # The types DuckDB gives the Arrow columns: what a CREATE TABLE AS would declare.
        describe = f"DESCRIBE SELECT * FROM {session.incoming(frame)}"  # noqa: S608 - constant
        return {row[0]: row[1] for row in session.execute(describe)}

    # ---------------------------------------------------------------- catalog and DDL

    def table_info(self, session: DuckDBSession, table: TableName) -> TableInfo | None:
        # DuckDB matches identifiers case-insensitively, so the lookup does too.
        rows = session.execute(
            "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
            "AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?)",
            [table.schema, table.table],
        )
        if not rows:
            return None
        # DESCRIBE of the one table: much cheaper than scanning duckdb_columns().
        columns = session.execute(f"DESCRIBE {self.quoted(table)}")
        return TableInfo(
            column_types={row[0]: row[1] for row in columns}, stored_schema_text=rows[0][0]
        )

    def create_table(self, session: DuckDBSession, write: FrameWrite, types: Types) -> bool:
        # No partition index: DuckDB's min/max zone maps already skip other slices' row groups.
        table = write.table
        schema = quote_identifier(table.schema, "schema")
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {self._catalog()}.{schema}")
        # The frame's Arrow types define the columns, and its rows fill the table at once.
        view = session.incoming(write.frame)
        session.execute(f"CREATE TABLE {self.quoted(table)} AS SELECT * FROM {view}")  # noqa: S608
        self.store_schema(session, table, write.frame.schema)
        return True

    def store_schema(
        self, session: DuckDBSession, table: TableName, schema: Mapping[str, pl.DataType]
    ) -> None:
        # The comment keeps the polars dtypes that DuckDB types do not carry (ms vs us
        # timestamps with time zone, categoricals, enums); it is base64, so it has no quotes.
        comment = encode_frame_schema(schema).replace("'", "''")
        session.execute(f"COMMENT ON TABLE {self.quoted(table)} IS '{comment}'")

    # ---------------------------------------------------------------- data

    def insert(self, session: DuckDBSession, table: TableName, frame: pl.DataFrame) -> None:
        # BY NAME matches columns by name, whatever their order in the frame.
        view = session.incoming(frame)
        target = self.quoted(table)
        session.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {view}")  # noqa: S608

    def upsert(
        self, session: DuckDBSession, write: FrameWrite, types: Types, info: TableInfo
    ) -> None:
        view = session.incoming(write.frame)
        matches = " AND ".join(
            f"source.{quote_identifier(c)} = target.{quote_identifier(c)}"
            for c in write.primary_key
        )
        # S608: the table and key columns are validated and quoted identifiers.
        session.execute(
            f"DELETE FROM {self.quoted(write.table)} AS target WHERE EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {view} AS source WHERE {matches})"
        )
        self.insert(session, write.table, write.frame)

    def read(self, session: DuckDBSession, request: SliceRead) -> pl.DataFrame:
        selected = ", ".join(quote_identifier(c) for c in request.columns)
        # S608: identifiers validated and quoted; window bounds are bound parameters.
        table = self.quoted(request.table)
        query = f"SELECT {selected} FROM {table} WHERE {request.where}"  # noqa: S608
        return session.connection.sql(query, params=request.params or None).pl()


# -------------------------------------------------------------------- helpers


def _run(
    connection: DuckDBPyConnection, statement: str, params: Sequence[Any] | None = None
) -> list[tuple[Any, ...]]:
    """Execute and drain the result: duckdb 2 refuses new work while a result is pending."""
    return connection.execute(statement, list(params) if params else None).fetchall()
