"""One manager algorithm for every table store (DuckDB, PostgreSQL, SQLite).

Write: resolve the target table -> validate the frame -> one transaction: create the table, or
check drift (and add columns when ``schema_evolution="add_columns"``) -> delete the slice and
insert | append | upsert -> count -> output metadata. Read: resolve -> one transaction: catalog,
column selection, slice -> restore the written polars dtypes. The backend is a
:class:`~.client.TableClient`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

import polars as pl
from dagster import InputContext, OutputContext

from ..core.context import asset_label, materialize_hint
from ..core.errors import MetadataError, MissingDataError, SchemaDriftError
from ..core.frames import check_no_drift, check_primary_key, restore_dtypes, select_columns
from ..core.metadata import StorageMetadata, storage_metadata
from ..core.naming import TableName, resolve_table, validate_identifier
from ..core.output_metadata import build_output_metadata
from ..core.partitions import (
    ColumnFilter,
    PartitionSelection,
    check_frame_in_selection,
    partition_selection,
    table_filters,
)
from ..core.payloads import ensure_loadable, ensure_supported
from .client import Context, FrameWrite, S, SchemaEvolution, SliceRead, TableClient, TableInfo

DICT_FIX = (
    "Store dict payloads with an IO manager that keeps dicts (FilesystemIOManager, S3IOManager "
    "or InMemoryIOManager; in this project io_manager_key='extract_io_manager'), or return a "
    "polars.DataFrame."
)


@dataclass(frozen=True)
class _Write(FrameWrite):
    """A :class:`FrameWrite` and its write mode."""

    meta: StorageMetadata


@dataclass(frozen=True)
class TableStore(Generic[S]):
    """Stores polars DataFrames as tables of the ``client``'s database.

    Semantics shared by every table store (docs/io-managers.md):

    - an unpartitioned overwrite makes the table hold exactly the frame: the table is kept
      (emptied, then filled) when its columns, dtypes and key match the frame's, and replaced
      (dropped and created from the frame) when they differ;
    - a partition overwrite deletes exactly its slice and inserts the frame;
    - append and upsert refuse a frame that does not match the table (``SchemaDriftError``),
      unless ``schema_evolution="add_columns"`` adds its new columns (nullable);
    - every write is one transaction.

    Example::

        store = TableStore(client, config_schema=self.schema_, schema_evolution="error")
        store.handle_output(context, frame)
        frame = store.load_input(context)
    """

    client: TableClient[S]
    config_schema: str | None
    schema_evolution: SchemaEvolution = "error"

    # ---------------------------------------------------------------- output

    def handle_output(self, context: OutputContext, obj: object) -> None:
        client = self.client
        asset = asset_label(context)
        ensure_supported(
            obj,
            context=context,
            manager=client.manager,
            supported=("frame",),
            fix=DICT_FIX,
            refused=client.refused,
        )
        assert isinstance(obj, pl.DataFrame)  # ensure_supported checked the payload kind
        frame = obj
        meta, table, selection, filters = self._target(context, asset)
        # Every column name, not only the keys: statements name columns (append, upsert, drift).
        for name in frame.columns:
            validate_identifier(name, f"column name of asset {asset}")
        for name in meta.primary_key:
            validate_identifier(name, f"primary_key column of asset {asset}")
        check_frame_in_selection(frame, filters, asset=asset)
        if meta.write_mode == "upsert":
            check_primary_key(frame, meta.primary_key, asset=asset)
        missing_keys = [c for c in meta.primary_key if c not in frame.columns]
        if missing_keys:
            raise MetadataError(
                f"Asset {asset}: primary_key column(s) {', '.join(missing_keys)} are not in the "
                f"frame (columns: {', '.join(frame.columns)})."
            )
        client.check_frame(frame, asset)
        write = _Write(table, frame, meta.primary_key, filters, asset, meta)

        row_count = client.run(
            lambda session: self._write(session, write), write=True, context=context
        )

        metadata = build_output_metadata(
            frame,
            partitioned=selection is not None,
            table_name=client.display_name(table),
            row_count=row_count,
            write_mode=meta.write_mode,
            partitions=[str(key) for key in selection.keys] if selection is not None else None,
        )
        metadata.update(client.output_metadata())
        context.add_output_metadata(metadata)

    def _target(
        self, context: Context, asset: str
    ) -> tuple[StorageMetadata, TableName, PartitionSelection | None, Sequence[ColumnFilter]]:
        """Metadata, table, partitions and table-slice filters of an output or input."""
        meta = storage_metadata(
            context,
            aliases=self.client.metadata_aliases,
            default_write_mode=self.client.default_write_mode,
        )
        table = resolve_table(
            context,
            config_schema=self.config_schema,
            default_schema=self.client.default_schema,
            meta=meta,
        )
        selection = partition_selection(context)
        filters = (
            table_filters(
                selection,
                meta,
                asset=asset,
                expressions=self.client.renders_expressions,
                store=self.client.manager,
            )
            if selection is not None
            else ()
        )
        for column_filter in filters:
            if column_filter.expr is not None:
                column_filter.expr.check_dialect(
                    self.client.dialect, asset=asset, manager=self.client.manager
                )
        return meta, table, selection, filters

    def _write(self, session: S, write: _Write) -> int:
        """Write inside the transaction; return the rows of the slice (or table) after."""
        client, table, frame, meta = self.client, write.table, write.frame, write.meta
        types_cache: list[dict[str, str]] = []

        def types() -> dict[str, str]:
            if not types_cache:
                types_cache.append(client.frame_types(session, frame, write.asset))
            return types_cache[0]

        replace = meta.write_mode == "overwrite" and not write.filters
        if replace and not client.keeps_table_on_overwrite:
            # The frame defines the table: no catalog lookup needed.
            client.drop_table(session, table, missing_ok=True)
            info = None
        else:
            info = client.table_info(session, table)
        if info is None and client.lock_for_create(session, table):
            # Parallel first writes (a backfill) would race to create the table: the first
            # creates it, the others wait, then find it.
            info = client.table_info(session, table)

        if info is not None and replace:
            # The frame defines the table: same layout, keep the table (grants, views, indexes
            # stay) and empty it; otherwise replace it.
            if self._same_layout(info, frame, types, meta.primary_key):
                client.empty_table(session, table)
            else:
                client.drop_table(session, table)
                info = None

        if info is None:
            if not client.create_table(session, write, types()):
                client.insert(session, table, frame)
        else:
            self._check_drift(session, info, write, types)
            if meta.write_mode == "overwrite":
                if write.filters:
                    where, params = client.where(write.filters, info, write.asset)
                    client.delete_slice(session, table, where, params)
                client.insert(session, table, frame)
            elif meta.write_mode == "append":
                client.insert(session, table, frame)
            else:
                client.upsert(session, write, types(), info)

        if meta.write_mode == "overwrite":
            return frame.height  # the slice (or table) holds exactly the frame now
        info = client.table_info(session, table)
        assert info is not None  # written above, in this transaction
        where, params = client.where(write.filters, info, write.asset)
        return client.count(session, table, where, params)

    def _same_layout(
        self,
        info: TableInfo,
        frame: pl.DataFrame,
        types: Callable[[], Mapping[str, str]],
        primary_key: Sequence[str],
    ) -> bool:
        stored = info.polars_schema()
        if stored is not None:
            same_columns = list(stored.items()) == list(frame.schema.items())
        else:
            same_columns = list(info.column_types.items()) == list(types().items())
        has_key = not primary_key or not self.client.key_constraints
        return same_columns and (has_key or info.has_unique_key(primary_key))

    def _check_drift(
        self,
        session: S,
        info: TableInfo,
        write: _Write,
        types: Callable[[], Mapping[str, str]],
    ) -> None:
        """Refuse a frame that does not match the table, or add its new columns when allowed."""
        client, table, frame, asset = self.client, write.table, write.frame, write.asset
        where = f"table {table.display()}"
        stored = info.polars_schema()
        compatible: Callable[[Any, Any], bool] | None = None
        existing: Mapping[str, Any]
        incoming: Mapping[str, Any]
        if stored is not None:
            existing, incoming = stored, frame.schema
        else:
            # A table made outside this manager (or altered since): compare the backend's types.
            compatible, existing, incoming = operator.eq, info.column_types, types()
        new_columns = [c for c in incoming if c not in existing]
        if self.schema_evolution == "add_columns" and new_columns:
            known = {c: t for c, t in incoming.items() if c in existing}
            check_no_drift(existing, known, asset=asset, where=where, compatible=compatible)
            for name in new_columns:
                # New columns are nullable: the rows already stored have no value for them.
                client.add_column(session, table, name, types()[name])
            if stored is not None:
                evolved = {**stored, **{c: frame.schema[c] for c in new_columns}}
                client.store_schema(session, table, evolved)
            return
        try:
            check_no_drift(existing, incoming, asset=asset, where=where, compatible=compatible)
        except SchemaDriftError as error:
            if not new_columns:
                raise
            raise SchemaDriftError(
                f"{error} To add new columns automatically, configure "
                f'{client.manager}(..., schema_evolution="add_columns").'
            ) from None

    # ---------------------------------------------------------------- input

    def load_input(self, context: InputContext) -> pl.DataFrame:
        client = self.client
        asset = asset_label(context)
        ensure_loadable(context, manager=client.manager, supported=("frame",), fix=DICT_FIX)
        meta, table, selection, filters = self._target(context, asset)
        first_key = selection.keys[0] if selection is not None and selection.keys else None
        hint = " ".join(filter(None, [materialize_hint(asset, first_key), client.load_hint()]))
        missing = client.missing_storage(asset, hint)
        if missing is not None:
            raise MissingDataError(missing)

        def load(session: S) -> tuple[pl.DataFrame, TableInfo]:
            info = client.table_info(session, table)
            if info is None:
                raise MissingDataError(
                    f"Cannot load asset {asset}: table {table.display()} does not exist in "
                    f"{client.location()}. {hint}"
                )
            columns = select_columns(
                list(info.column_types),
                meta.columns,
                asset=asset,
                where=f"table {table.display()}",
            )
            where, params = client.where(filters, info, asset)
            context.log.debug(f"Loading {asset} from {table.display()} where {where} {params}")
            selected = columns or list(info.column_types)
            frame = client.read(session, SliceRead(table, selected, where, params, info))
            return frame, info

        frame, info = client.run(load, write=False, context=context)
        return restore_dtypes(frame, info.polars_schema())
