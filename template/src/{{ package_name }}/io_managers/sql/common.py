"""What the PostgreSQL and SQLite clients share: connections, the type map, table creation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import polars as pl
from dagster import MetadataValue

from ..core.naming import TableName, quote_identifier
from ..tables.client import Context, FrameWrite, TableClient, Types
from ..tables.statements import create_table_statement, partition_index_statement
from .connection import SQLConnection, SQLSession
from .types import MANAGER, ColumnType, column_type

T = TypeVar("T")


class SQLClient(TableClient[SQLSession]):
    """A table client on a :class:`~.connection.SQLConnection` (PostgreSQL or SQLite).

    Example::

        client = PostgresClient(connection)  # or SQLiteClient(connection)
        client.frame_types(None, frame, "market/ohlcv")  # {"ts": "timestamp with time zone", ...}
    """

    manager = MANAGER

    def __init__(self, connection: SQLConnection) -> None:
        self.connection = connection

    def run(self, work: Callable[[SQLSession], T], *, write: bool, context: Context) -> T:
        return self.connection.run(work, write=write, log=context.log.warning)

    def location(self) -> str:
        return self.connection.masked_url()

    def output_metadata(self) -> dict[str, MetadataValue]:
        return {"database": MetadataValue.text(self.connection.masked_url())}

    def sql_type(self, column: ColumnType) -> str:
        raise NotImplementedError

    def check_frame(self, frame: pl.DataFrame, asset: str) -> None:
        self.frame_types(None, frame, asset)  # every dtype has a column type, or a clear error
        self.check_values(frame, asset)

    def check_values(self, frame: pl.DataFrame, asset: str) -> None:
        """Refuse values the backend would store differently from how they were written."""

    def frame_types(
        self, session: SQLSession | None, frame: pl.DataFrame, asset: str
    ) -> dict[str, str]:
        return {
            name: self.sql_type(column_type(dtype, column=name, asset=asset))
            for name, dtype in frame.schema.items()
        }

    def ensure_schema(self, session: SQLSession, table: TableName) -> None:
        """Create the table's schema if the backend has schemas and it is missing."""

    def create_table(self, session: SQLSession, write: FrameWrite, types: Types) -> bool:
        self.ensure_schema(session, write.table)
        target = self.quoted(write.table)
        session.execute(create_table_statement(target, types, write.primary_key))
        index = partition_index_statement(target, write.filters) if write.filters else None
        if index is not None:
            # Each partition write deletes its slice: an index on the partition columns
            # keeps that cost flat as partitions accumulate (no full scan per write).
            session.execute(index)
        self.store_schema(session, write.table, write.frame.schema)
        return False

    def stage_statement(self, stage: str, write: FrameWrite, types: Types) -> str:
        """``CREATE TABLE`` of the staging table an upsert copies the frame into first."""
        columns = ", ".join(f"{quote_identifier(c)} {types[c]}" for c in write.frame.columns)
        return f"CREATE TEMPORARY TABLE {stage} ({columns})"
