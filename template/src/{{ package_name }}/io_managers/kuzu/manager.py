"""KuzuDBIOManager: polars DataFrames as node and relationship tables of a Kuzu graph file.

A frame becomes a node table (label = metadata ``table`` or the last part of the asset key; key =
metadata ``primary_key``: one column, or several stored as one derived ``_key`` column), or a
relationship table when the asset declares ``graph_rel`` metadata. Frames go in through Kuzu's
bulk paths only: ``COPY T FROM $frame`` (columns put in table order first: COPY matches columns
by position) or one ``LOAD FROM $frame ... MERGE`` statement for upserts. A write runs in one
transaction, so a failed load leaves the previous graph queryable. See docs/io-manager-kuzu.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext
from pydantic import Field

from ..core.config import KnownSettings
from ..core.context import asset_label, materialize_hint
from ..core.errors import MetadataError, MissingDataError
from ..core.frames import restore_dtypes, select_columns
from ..core.output_metadata import build_output_metadata
from ..core.payloads import ensure_loadable, ensure_supported
from ..core.storage import StorageAPI, StoredData
from .catalog import StoredTable, check_kind, definition_mismatch, stored_table
from .connection import connect, lock_timeout_field, run_query
from .cypher import expression, match, quote, where
from .days import rows_by_partition
from .engine import GraphConnection
from .storage import graph_delete, graph_describe, graph_exists
from .swap import connect_to_copy, publish_snapshot
from .target import (
    COMPOSITE_KEY_COLUMN,
    REFUSED_DTYPES,
    GraphTarget,
    check_kuzu_values,
    composite_key,
    graph_target,
    validate_frame,
)
from .writes import write_frame

_MANAGER = "KuzuDBIOManager"
_DICT_FIX = (
    "Store dict payloads with an IO manager that keeps dicts (FilesystemIOManager, S3IOManager "
    "or InMemoryIOManager; in this project io_manager_key='extract_io_manager'), or return a "
    "polars.DataFrame of nodes or relationships."
)


class KuzuDBIOManager(StorageAPI, ConfigurableIOManager, KnownSettings):
    """Stores polars DataFrames as node or relationship tables of a Kuzu database file.

    Node tables: label from metadata ``table`` (else the last part of the asset key), key from
    ``primary_key``: one column, or several, stored as one derived STRING column ``_key``
    (a JSON object of the key values, dropped again on load; see docs/io-manager-kuzu.md).
    Relationship tables: metadata
    ``graph_rel: {"from": <label>, "to": <label>, "from_key": <column>, "to_key": <column>}``.
    Partitioned assets need ``partition_expr`` (a DATE/TIMESTAMP property); ``write_mode``
    overwrite (default), append or upsert; ``columns`` on inputs. Asset code asks the graph
    questions through the graph query resource (``GraphQueryResource``), not through this
    manager; :meth:`query` is the same read-only path, for scripts and tests.

    Example::

        @dg.asset(io_manager_key="graph_io_manager", metadata={"primary_key": "id"})
        def exchange() -> pl.DataFrame:
            return pl.DataFrame({"id": ["binance"], "markets": [1520]})

        defs = dg.Definitions(
            assets=[exchange],
            resources={"graph_io_manager": KuzuDBIOManager(db_path="data/graph.kuzu")},
        )
    """

    db_path: str = Field(description="Path of the Kuzu database file (created on first write).")
    lock_timeout_seconds: float = lock_timeout_field()
    snapshot_path: str | None = Field(
        default=None,
        description=(
            "If set, a copy of the database published (atomically) after every write, for "
            "readers such as Kuzu Explorer that must never block the pipeline."
        ),
    )
    replace_atomically: bool = Field(
        default=True,
        description=(
            "Write into a private copy of the database file and rename it into place, so a "
            "process killed during Kuzu's commit cannot damage the graph (kuzu 0.11.3 then "
            "loses the tables it was committing). Costs one copy of the file per write; False "
            "writes in place."
        ),
    )

    def query(self, cypher: str, parameters: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """One read-only Cypher statement, values in ``parameters`` (as GraphQueryResource)."""
        timeout = self.lock_timeout_seconds
        return run_query(self.db_path, cypher, parameters, timeout_seconds=timeout)

    # ---------------------------------------------------------------- output

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        ensure_supported(
            obj,
            context=context,
            manager=_MANAGER,
            supported=("frame",),
            fix=_DICT_FIX,
            refused=REFUSED_DTYPES,
        )
        frame: pl.DataFrame = obj
        check_kuzu_values(frame, asset=asset_label(context))
        target = graph_target(context)
        validate_frame(frame, target)
        # A range of days (a single-run backfill) is stored day by day, in key order, as the
        # same days written one by one would be; a row of another day refuses the whole write.
        frame, row_counts = rows_by_partition(
            frame, target.filters, target.time_dimensions, asset=target.asset
        )

        def publish(connection: GraphConnection, source: Path) -> None:
            if self.snapshot_path:
                publish_snapshot(
                    connection, source=source, snapshot_path=self.snapshot_path, log=context.log
                )

        timeout = self.lock_timeout_seconds
        if self.replace_atomically:
            with connect_to_copy(
                self.db_path, timeout_seconds=timeout, log=context.log, after_checkpoint=publish
            ) as connection:
                row_count, stored = write_frame(connection, target, frame, private_copy=True)
        else:
            with connect(
                self.db_path, read_only=False, timeout_seconds=timeout, log=context.log
            ) as connection:
                row_count, stored = write_frame(connection, target, frame)
                publish(connection, Path(self.db_path))

        metadata = build_output_metadata(
            frame,
            partitioned=target.partitioned,
            table_name=f"{Path(self.db_path).stem}.{target.label}",
            row_count=row_count,
            write_mode=target.meta.write_mode,
            partitions=list(context.asset_partition_keys) if target.partitioned else None,
        )
        metadata["graph_table"] = MetadataValue.text(stored.describe())
        if row_counts is not None and len(row_counts) > 1:
            # Dagster records an output's metadata on every partition it covers: rows_written
            # is the whole range's, these are each day's.
            metadata["partition_row_counts"] = MetadataValue.json(row_counts)
        context.add_output_metadata(metadata)

    # ---------------------------------------------------------------- input

    def load_input(self, context: InputContext) -> pl.DataFrame:
        ensure_loadable(context, manager=_MANAGER, supported=("frame",), fix=_DICT_FIX)
        target = graph_target(context)
        first_key = (
            context.asset_partition_keys[0]
            if context.has_asset_key and context.has_asset_partitions
            else None
        )
        hint = f"{materialize_hint(target.asset, first_key)} Or check db_path ({self.db_path!r})."
        if not Path(self.db_path).exists():
            raise MissingDataError(
                f"Cannot load asset {target.asset}: the Kuzu database {self.db_path} does not "
                f"exist. {hint}"
            )
        with connect(
            self.db_path,
            read_only=True,
            timeout_seconds=self.lock_timeout_seconds,
            log=context.log,
        ) as connection:
            stored = stored_table(connection, target.label)
            if stored is None:
                raise MissingDataError(
                    f"Cannot load asset {target.asset}: {target.describe()} does not exist in "
                    f"{self.db_path}. {hint}"
                )
            check_kind(stored, target)
            mismatch = definition_mismatch(stored, target)
            if mismatch is not None:
                raise MetadataError(mismatch)
            frame, selected = _read(connection, stored, target, context)
        written = stored.written
        if written is not None and composite_key(target) is not None:
            written = pl.Schema(
                (name, dtype) for name, dtype in written.items() if name != COMPOSITE_KEY_COLUMN
            )
        if selected is None and written is not None:
            # Columns in the order they were written (the table keeps endpoint keys first).
            written_order = [c for c in written if c in frame.columns]
            frame = frame.select(
                written_order + [c for c in frame.columns if c not in written_order]
            )
        return restore_dtypes(frame, written)

    # ---------------------------------------------------------------- storage API

    def _exists(self, context: OutputContext) -> bool:
        return graph_exists(self.db_path, self.lock_timeout_seconds, context)

    def _delete(self, context: OutputContext) -> None:
        graph_delete(
            self.db_path,
            self.lock_timeout_seconds,
            context,
            replace_atomically=self.replace_atomically,
        )

    def _describe(self, context: OutputContext) -> StoredData:
        return graph_describe(self.db_path, self.lock_timeout_seconds, context)


def _read(
    connection: GraphConnection, stored: StoredTable, target: GraphTarget, context: InputContext
) -> tuple[pl.DataFrame, list[str] | None]:
    """The target's rows in write order, and the selected columns (``None``: all)."""
    # The key column derived from a primary key of several columns is not part of the frame.
    derived = COMPOSITE_KEY_COLUMN if composite_key(target) is not None else None
    columns = [column for column in stored.columns(target.rel) if column != derived]
    selected = select_columns(
        columns, target.meta.columns, asset=target.asset, where=stored.describe()
    )
    condition, params = where(target, stored)
    returns = ", ".join(
        f"{expression(stored, target, c)} AS {quote(c)}" for c in selected or columns
    )
    query = (
        f"{match(stored, target)} WHERE {condition} RETURN {returns} "
        f"ORDER BY offset(ID({target.variable}))"
    )
    context.log.debug(f"Loading {target.asset}: {query} {params}")
    return connection.execute(query, params).get_as_pl(), selected
