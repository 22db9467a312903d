"""The storage API of the table stores (DuckDB, PostgreSQL, SQLite), written once.

A partition is the table slice its ``partition_expr`` selects (the slice a write of that
partition replaces); an unpartitioned asset is its whole table.
"""

from __future__ import annotations

from typing import Any

from dagster import OutputContext

from ..core.context import asset_label
from ..core.errors import MissingDataError
from ..core.storage import StoredData, polars_columns
from .client import TableInfo
from .manager import TableStore


def _columns(info: TableInfo) -> dict[str, str]:
    stored = info.polars_schema()
    return polars_columns(stored) if stored is not None else dict(info.column_types)


def table_exists(store: TableStore[Any], context: OutputContext) -> bool:
    """The table exists, and for a partition its slice has rows."""
    client, asset = store.client, asset_label(context)
    _meta, table, _selection, filters = store._target(context, asset)
    if client.missing_storage(asset, "") is not None:
        return False

    def look(session: Any) -> bool:
        info = client.table_info(session, table)
        if info is None:
            return False
        if not filters:
            return True
        where, params = client.where(filters, info, asset)
        return client.count(session, table, where, params) > 0

    return client.run(look, write=False, context=context)


def table_delete(store: TableStore[Any], context: OutputContext) -> None:
    """Delete the partition's slice (one transaction) or drop the table; absent is a no-op."""
    client, asset = store.client, asset_label(context)
    _meta, table, _selection, filters = store._target(context, asset)
    if client.missing_storage(asset, "") is not None:
        return

    def delete(session: Any) -> None:
        if not filters:
            client.drop_table(session, table, missing_ok=True)
            return
        info = client.table_info(session, table)
        if info is None:
            return
        where, params = client.where(filters, info, asset)
        client.delete_slice(session, table, where, params)

    client.run(delete, write=True, context=context)
    context.log.info(f"Deleted {asset} from {client.display_name(table)}")


def table_describe(store: TableStore[Any], context: OutputContext) -> StoredData:
    """Rows (of the slice, for a partition), columns and name of the table."""
    client, asset = store.client, asset_label(context)
    _meta, table, selection, filters = store._target(context, asset)
    key = str(selection.keys[0]) if selection is not None else None
    what = f"partition {key} of asset {asset}" if key is not None else f"asset {asset}"
    if client.missing_storage(asset, "") is not None:
        raise MissingDataError(f"Nothing stored for {what}: {client.location()} does not exist.")

    def look(session: Any) -> StoredData:
        info = client.table_info(session, table)
        if info is None:
            raise MissingDataError(
                f"Nothing stored for {what}: table {table.display()} does not exist in "
                f"{client.location()}."
            )
        where, params = client.where(filters, info, asset)
        rows = client.count(session, table, where, params)
        if filters and not rows:
            raise MissingDataError(
                f"Nothing stored for {what}: table {table.display()} has no rows in it."
            )
        return StoredData(asset, key, client.display_name(table), rows, _columns(info), None)

    return client.run(look, write=False, context=context)
