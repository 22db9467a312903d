"""Configuration and entry points every table-store IO manager shares."""

from __future__ import annotations

from typing import Any

import polars as pl
from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import Field

from ..core.config import KnownSettings
from ..core.storage import StorageAPI, StoredData
from .client import SchemaEvolution, TableClient
from .manager import TableStore
from .storage import table_delete, table_describe, table_exists


class TableIOManager(StorageAPI, ConfigurableIOManager, KnownSettings):
    """An IO manager over :class:`~.manager.TableStore`; subclasses build the client.

    The storage API (``exists``, ``delete``, ``describe``: :class:`~..core.storage.StorageAPI`)
    works on the table, or on a partition's slice of it.

    Example::

        class MyIOManager(TableIOManager):
            db_path: str

            def client(self) -> TableClient[Any]:
                return MyClient(self.db_path)
    """

    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Schema for tables whose asset metadata sets none (before the key prefix).",
    )
    schema_evolution: SchemaEvolution = Field(
        default="error",
        description="What appends/partition writes do with columns the table lacks: 'error' "
        "(SchemaDriftError) or 'add_columns' (ALTER TABLE ... ADD COLUMN, nullable).",
    )

    def client(self) -> TableClient[Any]:
        """The backend client of one operation."""
        raise NotImplementedError

    def _store(self) -> TableStore[Any]:
        return TableStore(
            self.client(), config_schema=self.schema_, schema_evolution=self.schema_evolution
        )

    def handle_output(self, context: OutputContext, obj: object) -> None:
        self._store().handle_output(context, obj)

    def load_input(self, context: InputContext) -> pl.DataFrame:
        return self._store().load_input(context)

    def _exists(self, context: OutputContext) -> bool:
        return table_exists(self._store(), context)

    def _delete(self, context: OutputContext) -> None:
        table_delete(self._store(), context)

    def _describe(self, context: OutputContext) -> StoredData:
        return table_describe(self._store(), context)
