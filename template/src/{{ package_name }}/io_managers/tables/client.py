"""The typed interface between the shared table-store manager and one database backend.

A :class:`TableClient` is what differs between DuckDB, PostgreSQL and SQLite: how to open one
transaction, look a table up in the catalog, create it, delete a slice, insert and upsert frames
in bulk, read them back, add columns, and which dtypes and values the backend refuses.
Everything else (targets, validation, drift, write modes, output metadata) is
:class:`~.manager.TableStore`'s, written once.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import polars as pl
from dagster import InputContext, MetadataValue, OutputContext

from ..core.errors import MetadataError
from ..core.expressions import Dialect
from ..core.frames import decode_frame_schema
from ..core.metadata import WriteMode
from ..core.naming import TableName, quote_identifier
from ..core.partitions import (
    ColumnFilter,
    TemporalKind,
    build_where_clause,
    temporal_kind_of,
)
from ..core.payloads import NOTHING_REFUSED, RefusedDtypes

T = TypeVar("T")
SchemaEvolution = Literal["error", "add_columns"]
Row = tuple[Any, ...]
#: A value bound as a statement parameter (partition bounds, static keys, catalog names).
Param = str | int | float | bool | dt.date | dt.datetime | None
Context = OutputContext | InputContext
#: column -> the backend's type name.
Types = Mapping[str, str]


class Session(Protocol):
    """Statements inside the one transaction of a read or write.

    Example::

        rows = session.execute('SELECT count(*) FROM "market"."ohlcv" WHERE "ts" >= ?', [start])
    """

    def execute(self, statement: str, params: Sequence[Param] = ()) -> list[Row]:
        """Run ``statement`` with bound ``params``; return its rows (none for DDL/DML)."""
        ...


S = TypeVar("S", bound=Session)


@dataclass
class TableInfo:
    """What the catalog says about an existing table.

    ``column_types`` maps column -> the backend's type name, in table order;
    ``stored_schema_text`` is the polars schema the manager wrote with the table (if any);
    ``unique_keys`` are the column sets of its unique constraints.

    Example::

        info = TableInfo({"ts": "timestamp with time zone"}, None, [frozenset({"ts"})])
        info.has_unique_key(["ts"])  # True
    """

    column_types: dict[str, str]
    stored_schema_text: str | None
    unique_keys: list[frozenset[str]] = field(default_factory=list)

    def polars_schema(self) -> pl.Schema | None:
        """The written polars schema, if it still describes the table's columns."""
        schema = decode_frame_schema(self.stored_schema_text)
        if schema is None or set(schema) != set(self.column_types):
            return None
        return pl.Schema({name: schema[name] for name in self.column_types})

    def has_unique_key(self, columns: Sequence[str]) -> bool:
        return frozenset(columns) in self.unique_keys


@dataclass(frozen=True)
class FrameWrite:
    """One validated output: the frame, its table, and how to write it.

    Example::

        FrameWrite(TableName("market", "ohlcv"), frame, ("ts",), filters=(), asset="market/ohlcv")
    """

    table: TableName
    frame: pl.DataFrame
    primary_key: Sequence[str]
    filters: Sequence[ColumnFilter]
    asset: str


@dataclass(frozen=True)
class SliceRead:
    """One load: the columns of the table's rows matching ``where`` (bound ``params``).

    Example::

        frame = client.read(session, SliceRead(table, ["ts", "close"], "TRUE", [], info))
    """

    table: TableName
    columns: Sequence[str]
    where: str
    params: list[Any]
    info: TableInfo


def missing_column_error(asset: str, column: str, columns: Sequence[str]) -> MetadataError:
    return MetadataError(
        f"Asset {asset}: partition_expr column {column!r} is not in the table "
        f"(columns: {', '.join(columns)})."
    )


def check_filter_columns(column_filter: ColumnFilter, info: TableInfo, asset: str) -> None:
    """Refuse a filter naming a column (or an expression reading one) the table lacks."""
    if column_filter.expr is not None:
        column_filter.expr.uses_only(list(info.column_types), asset=asset, where="table")
    elif column_filter.column not in info.column_types:
        raise missing_column_error(asset, column_filter.column, list(info.column_types))


def kind_error(asset: str, column: str, data_type: str) -> MetadataError:
    return MetadataError(
        f"Asset {asset}: partition_expr column {column!r} has type {data_type}; a time "
        "partition needs a DATE or TIMESTAMP column."
    )


class TableClient(ABC, Generic[S]):
    """One table-store backend, behind the interface :class:`~.manager.TableStore` drives.

    Subclasses implement the abstract methods; the defaults are plain SQL every backend here
    understands, overridden where a backend has a better or different statement.

    Example (a client is built by its IO manager, then driven by the shared manager)::

        client = DuckDBClient(db_path="data/crypto.duckdb", lock_timeout_seconds=60)
        TableStore(client, config_schema=None).handle_output(context, frame)
    """

    #: The IO manager class name, for messages.
    manager: str
    #: Schema of tables whose metadata, config and key prefix name none.
    default_schema: str
    #: polars dtypes the backend cannot store and give back exactly (checked before writing).
    refused: RefusedDtypes = NOTHING_REFUSED
    #: Whether ``primary_key`` becomes a PRIMARY KEY constraint of the tables it creates.
    key_constraints: bool = True
    #: Whether an unpartitioned overwrite keeps a table whose layout matches the frame (emptied,
    #: then filled: grants, views and indexes stay); if not, it is always dropped and created.
    keeps_table_on_overwrite: bool = True
    #: Placeholder of a bound parameter in statements (``?`` or ``%s``).
    placeholder: str = "?"
    #: The SQL dialect ``partition_expr`` expressions are rendered in.
    dialect: Dialect = "duckdb"
    #: Whether ``partition_expr`` may be an expression over columns (else a column only).
    renders_expressions: bool = True
    #: Other names of the shared metadata keys this backend accepts (alias -> shared key).
    metadata_aliases: ClassVar[Mapping[str, str]] = {}
    #: The write mode of assets whose metadata names none.
    default_write_mode: WriteMode = "overwrite"

    # ---------------------------------------------------------------- connections

    @abstractmethod
    def run(self, work: Callable[[S], T], *, write: bool, context: Context) -> T:
        """``work`` in one transaction: committed if it returns, rolled back if it raises."""

    def missing_storage(self, asset: str, hint: str) -> str | None:
        """Why a load cannot find anything before connecting (a database file absent)."""
        return None

    @abstractmethod
    def location(self) -> str:
        """The database, for messages (a file path, or a URL with the password masked)."""

    def load_hint(self) -> str:
        """What to check in the configuration when a table is missing."""
        return ""

    def output_metadata(self) -> dict[str, MetadataValue]:
        """Backend-specific entries of each output's metadata."""
        return {}

    # ---------------------------------------------------------------- names and types

    def quoted(self, table: TableName) -> str:
        """The table as it appears in statements."""
        return table.quoted

    @abstractmethod
    def display_name(self, table: TableName) -> str:
        """``database.schema.table``, for ``dagster/table_name``."""

    def check_frame(self, frame: pl.DataFrame, asset: str) -> None:
        """Refuse columns or values the backend would not store exactly (beyond ``refused``)."""

    @abstractmethod
    def frame_types(self, session: S, frame: pl.DataFrame, asset: str) -> dict[str, str]:
        """The backend's column type of each column of ``frame``, as its catalog names them."""

    def temporal_kind(self, info: TableInfo, column: str, asset: str) -> TemporalKind:
        """How partition bounds of ``column`` are bound: date, timestamp or timestamptz."""
        data_type = info.column_types[column]
        kind = temporal_kind_of(data_type)
        if kind is None:
            raise kind_error(asset, column, data_type)
        return kind

    def where(
        self, filters: Sequence[ColumnFilter], info: TableInfo, asset: str
    ) -> tuple[str, list[Any]]:
        """The WHERE condition of a table slice, with bounds as bound parameters."""
        for column_filter in filters:
            check_filter_columns(column_filter, info, asset)
        return build_where_clause(
            filters,
            temporal_kind=lambda column: self.temporal_kind(info, column, asset),
            placeholder=lambda _index: self.placeholder,
            dialect=self.dialect,
        )

    # ---------------------------------------------------------------- catalog and DDL

    @abstractmethod
    def table_info(self, session: S, table: TableName) -> TableInfo | None:
        """The table's columns, stored schema and unique keys; ``None`` if it does not exist."""

    def lock_for_create(self, session: S, table: TableName) -> bool:
        """Serialize table creation until the transaction ends, where writers may race.

        Returns whether it waited for a lock (then the table may exist now).
        """
        return False

    @abstractmethod
    def create_table(self, session: S, write: FrameWrite, types: Types) -> bool:
        """Create the table of ``write.frame`` and store its polars schema.

        Returns whether the frame's rows are in it already (created from them); if not, the
        manager inserts them next.
        """

    @abstractmethod
    def store_schema(self, session: S, table: TableName, schema: Mapping[str, pl.DataType]) -> None:
        """Keep the polars schema the table was written with (dtypes SQL types lose)."""

    def drop_table(self, session: S, table: TableName, *, missing_ok: bool = False) -> None:
        session.execute(f"DROP TABLE {'IF EXISTS ' if missing_ok else ''}{self.quoted(table)}")

    def empty_table(self, session: S, table: TableName) -> None:
        session.execute(f"DELETE FROM {self.quoted(table)}")  # noqa: S608 - quoted identifier

    def add_column(self, session: S, table: TableName, column: str, data_type: str) -> None:
        """Add a nullable column; a concurrent writer may have added it meanwhile."""
        session.execute(
            f"ALTER TABLE {self.quoted(table)} ADD COLUMN IF NOT EXISTS "
            f"{quote_identifier(column)} {data_type}"
        )

    # ---------------------------------------------------------------- data

    def delete_slice(self, session: S, table: TableName, where: str, params: list[Any]) -> None:
        # S608: identifiers validated and quoted; window bounds are bound parameters.
        session.execute(f"DELETE FROM {self.quoted(table)} WHERE {where}", params)  # noqa: S608

    @abstractmethod
    def insert(self, session: S, table: TableName, frame: pl.DataFrame) -> None:
        """Append the rows of ``frame`` in bulk (columns matched by name)."""

    @abstractmethod
    def upsert(self, session: S, write: FrameWrite, types: Types, info: TableInfo) -> None:
        """Insert the frame, replacing the rows whose ``primary_key`` values it holds."""

    def count(self, session: S, table: TableName, where: str, params: list[Any]) -> int:
        # S608: identifiers validated and quoted; window bounds are bound parameters.
        query = f"SELECT count(*) FROM {self.quoted(table)} WHERE {where}"  # noqa: S608
        return int(session.execute(query, params)[0][0])

    @abstractmethod
    def read(self, session: S, request: SliceRead) -> pl.DataFrame:
        """The selected columns of the rows matching the request's condition."""
