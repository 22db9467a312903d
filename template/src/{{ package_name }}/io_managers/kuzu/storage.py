"""The storage API of the Kuzu graph: a node or relationship table, or a partition's rows.

A partition is the rows its ``partition_expr`` property selects (the rows a write of that
partition replaces); an unpartitioned asset is its whole table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import OutputContext

from ..core.errors import MetadataError, MissingDataError
from ..core.storage import StoredData, polars_columns
from .catalog import StoredTable, check_kind, referencing_tables, rows, stored_table
from .connection import connect
from .cypher import match, quote, where
from .engine import GraphConnection
from .swap import connect_to_copy
from .target import GraphTarget, graph_target
from .writes import delete_slice, transaction


def _count(connection: GraphConnection, stored: StoredTable, target: GraphTarget) -> int:
    condition, params = where(target, stored)
    statement = f"{match(stored, target, endpoints=False)} WHERE {condition} RETURN count(*)"
    return int(rows(connection, statement, params)[0][0])


@contextmanager
def _reading(db_path: str, timeout: float, context: OutputContext) -> Iterator[GraphConnection]:
    with connect(db_path, read_only=True, timeout_seconds=timeout, log=context.log) as connection:
        yield connection


def graph_exists(db_path: str, timeout: float, context: OutputContext) -> bool:
    """The table exists, and for a partition it has rows in that partition."""
    target = graph_target(context)
    if not Path(db_path).exists():
        return False
    with _reading(db_path, timeout, context) as connection:
        stored = stored_table(connection, target.label)
        if stored is None:
            return False
        check_kind(stored, target)
        return not target.filters or _count(connection, stored, target) > 0


def graph_delete(
    db_path: str, timeout: float, context: OutputContext, *, replace_atomically: bool
) -> None:
    """Delete the partition's rows or drop the table, in one transaction; absent is a no-op.

    Dropping a node table that relationship tables reference fails with Kuzu's error: delete
    the relationship assets first.
    """
    target = graph_target(context)
    if not Path(db_path).exists():
        return

    def delete(connection: GraphConnection) -> None:
        with transaction(connection):
            stored = stored_table(connection, target.label)
            if stored is None:
                return
            check_kind(stored, target)
            if not target.filters:
                referencing = referencing_tables(connection, stored)
                if referencing:
                    raise MetadataError(
                        f"Cannot delete asset {target.asset}: relationship table(s) "
                        f"{', '.join(referencing)} connect {stored.describe()}. Delete the "
                        "assets stored in them first."
                    )
                connection.execute(f"DROP TABLE {quote(stored.name)}")
                return
            delete_slice(connection, stored, target)

    if replace_atomically:

        def published(_connection: Any, _path: Path) -> None:
            return None

        with connect_to_copy(
            db_path, timeout_seconds=timeout, log=context.log, after_checkpoint=published
        ) as connection:
            delete(connection)
    else:
        with connect(
            db_path, read_only=False, timeout_seconds=timeout, log=context.log
        ) as connection:
            delete(connection)
    context.log.info(f"Deleted {target.asset} from {target.describe()} in {db_path}")


def graph_describe(db_path: str, timeout: float, context: OutputContext) -> StoredData:
    """Rows (of the partition), properties and name of the table."""
    target = graph_target(context)
    key = str(context.asset_partition_key) if target.partitioned else None
    what = f"partition {key} of asset {target.asset}" if key else f"asset {target.asset}"
    if not Path(db_path).exists():
        raise MissingDataError(f"Nothing stored for {what}: {db_path} does not exist.")
    with _reading(db_path, timeout, context) as connection:
        stored = stored_table(connection, target.label)
        if stored is None:
            raise MissingDataError(
                f"Nothing stored for {what}: {target.describe()} does not exist in {db_path}."
            )
        check_kind(stored, target)
        count = _count(connection, stored, target)
    if target.filters and not count:
        raise MissingDataError(f"Nothing stored for {what}: {stored.describe()} has no rows in it.")
    columns = (
        polars_columns(stored.written) if stored.written is not None else dict(stored.properties)
    )
    location = f"{Path(db_path).stem}.{stored.name}"
    return StoredData(target.asset, key, location, count, columns, None)
