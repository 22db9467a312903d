"""What the PostgreSQL and SQLite clients share: connections, the type map, table creation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import polars as pl
from dagster import InputContext, MetadataValue, OutputContext

from ..core.naming import TableName
from ..core.partitions import ColumnFilter
from ..tables.client import TableClient
from ..tables.statements import create_table_statement, partition_index_statement
from .connection import SQLConnection, SQLSession
from .types import MANAGER, ColumnType, column_type

T = TypeVar("T")


class SQLClient(TableClient[SQLSession]):
    """A table client on a :class:`~.connection.SQLConnection` (PostgreSQL or SQLite)."""

    manager = MANAGER

    def __init__(self, connection: SQLConnection) -> None:
        self.connection = connection

    def run(
        self,
        work: Callable[[SQLSession], T],
        *,
        write: bool,
        context: OutputContext | InputContext,
    ) -> T:
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

    def create_table(
        self,
        session: SQLSession,
        table: TableName,
        frame: pl.DataFrame,
        types: Mapping[str, str],
        primary_key: Sequence[str],
        filters: Sequence[ColumnFilter],
    ) -> None:
        self.ensure_schema(session, table)
        target = self.quoted(table)
        session.execute(create_table_statement(target, types, primary_key))
        if filters:
            # Each partition write deletes its slice: an index on the partition columns
            # keeps that cost flat as partitions accumulate (no full scan per write).
            session.execute(partition_index_statement(target, filters))
        self.store_schema(session, table, frame.schema)
