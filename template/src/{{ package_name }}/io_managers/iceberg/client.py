"""Iceberg behind the table-store interface: one catalog commit per write, retried on conflict.

A session collects the changes of one write in a pyiceberg transaction per table (create,
schema changes, deletes, appends, upserts, properties); :meth:`IcebergClient.run` commits them
at the end, so the catalog moves from the previous snapshot to the new one in one step, or not at
all (a failed or killed write leaves the previous snapshot current). A commit that loses a race
with another writer is redone from the start, on the table as the winner left it; after
``commit_attempts`` it is :class:`IcebergCommitError` (retryable by the step's policy).

Example::

    client = IcebergClient(settings)
    TableStore(client, config_schema=None).handle_output(context, frame)
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import polars as pl
from dagster import MetadataValue, OutputContext

from ...retry import Backoff, Retry, retry_call
from ..core.errors import IOManagerError, MetadataError, MissingDataError
from ..core.frames import encode_frame_schema
from ..core.metadata import WriteMode
from ..core.naming import TableName
from ..core.partitions import ColumnFilter
from ..core.telemetry import span_attributes, storage_span
from ..tables.client import (
    Context,
    FrameWrite,
    Param,
    Row,
    SliceRead,
    TableClient,
    TableInfo,
    Types,
    check_filter_columns,
)
from .filters import add_partition_fields, describe, row_filter
from .types import MANAGER, REFUSED_DTYPES, check_values, iceberg_arrow

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table, Transaction
    from pyiceberg.table.metadata import TableMetadata

T = TypeVar("T")
#: Table property keeping the polars schema the table was written with.
SCHEMA_PROPERTY = "dagster.polars_schema"
#: The specification's metadata keys, accepted as aliases of the shared ones.
ALIASES: Mapping[str, str] = {
    "iceberg_table": "table",
    "iceberg_namespace": "schema",
    "iceberg_write_mode": "write_mode",
    "iceberg_upsert_keys": "primary_key",
    "iceberg_partition_column": "partition_expr",
}
SNAPSHOT_PROPS_KEY = "iceberg_snapshot_props"


def _quiet_empty_deletes() -> None:
    """Hide pyiceberg's warning for a delete that matches no row, for this module's calls only.

    A partition's first write and an upsert of new keys delete nothing by design. pyiceberg
    names its caller (this module), so the filter leaves users' own pyiceberg calls as they
    were. It is (re)installed before each delete rather than once at import because test
    runners reset the filters imports set; unlike `warnings.catch_warnings` around the call, it
    never swaps the process's filter list back, so a thread warning meanwhile loses nothing.
    """
    warnings.filterwarnings(
        "ignore",
        message="Delete operation did not match any records",
        category=UserWarning,
        module=re.escape(__name__) + "$",
    )


class IcebergCommitError(IOManagerError, RuntimeError):
    """Other writers kept committing to the table first, ``commit_attempts`` times in a row.

    Nothing of this write was committed; the table is at the winner's snapshot. Retryable.

    Example::

        IcebergIOManager(..., commit_attempts=5)  # more attempts for busy tables
    """

    RETRYABLE = True


@dataclass(frozen=True)
class ReadOptions:
    """How a load reads: as of a snapshot id or a time, and an extra Iceberg row filter.

    Example::

        ReadOptions(snapshot_id=None, as_of=dt.datetime(2024, 1, 3, tzinfo=dt.UTC))
    """

    snapshot_id: int | None = None
    as_of: dt.datetime | None = None
    row_filter: str | None = None


@dataclass
class IcebergSettings:
    """What the client needs from the manager's configuration."""

    catalog: Callable[[], SqlCatalog]
    catalog_location: str
    warehouse: str
    namespace: str
    default_write_mode: WriteMode = "overwrite"
    infer_schema_from_data: bool = True
    commit_attempts: int = 3
    read: ReadOptions = field(default_factory=ReadOptions)


class IcebergSession:
    """The pending changes of one read or write: a pyiceberg transaction per table.

    Example::

        session = IcebergSession(catalog, {"dagster.run_id": "..."})
        session.transaction(TableName("market", "ohlcv")).append(arrow)
        session.commit()
    """

    def __init__(self, catalog: SqlCatalog, properties: dict[str, str]) -> None:
        self.catalog = catalog
        #: The snapshot summary of every commit of this session.
        self.properties = properties
        self.tables: dict[TableName, Table | None] = {}
        self.transactions: dict[TableName, Transaction] = {}
        self.dropped: set[TableName] = set()
        self.incoming: pa.Table | None = None
        self._incoming_frame: pl.DataFrame | None = None

    def execute(self, statement: str, params: Sequence[Param] = ()) -> list[Row]:
        raise NotImplementedError(f"{MANAGER} writes through pyiceberg, not SQL statements.")

    def load(self, table: TableName) -> Table | None:
        """The committed table, or ``None`` if the catalog has none of that name."""
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        if table not in self.tables:
            try:
                self.tables[table] = self.catalog.load_table((table.schema, table.table))
            except (NoSuchTableError, NoSuchNamespaceError):
                self.tables[table] = None
        return self.tables[table]

    def metadata(self, table: TableName) -> TableMetadata | None:
        """The table as this session sees it: committed state plus pending changes."""
        if table in self.dropped:
            return None
        pending = self.transactions.get(table)
        if pending is not None:
            return pending.table_metadata
        loaded = self.load(table)
        return loaded.metadata if loaded is not None else None

    def transaction(self, table: TableName) -> Transaction:
        pending = self.transactions.get(table)
        if pending is None:
            loaded = self.load(table)
            assert loaded is not None, "the manager looks the table up before changing it"
            pending = self.transactions[table] = loaded.transaction()
        return pending

    def arrow(self, frame: pl.DataFrame) -> pa.Table:
        """The frame as pyiceberg writes it (converted once per session)."""
        if self.incoming is None or self._incoming_frame is not frame:
            self.incoming = iceberg_arrow(frame)
            self._incoming_frame = frame
        return self.incoming

    def commit(self) -> int | None:
        """Commit every pending change; return the new snapshot id of the (last) table."""
        snapshot_id = None
        for table in self.dropped - set(self.transactions):
            if self.load(table) is not None:
                self.catalog.drop_table((table.schema, table.table))
        for pending in self.transactions.values():
            committed = pending.commit_transaction()
            current = committed.current_snapshot()
            snapshot_id = current.snapshot_id if current is not None else None
        return snapshot_id


def snapshot_properties(context: Context) -> dict[str, str]:
    """Run id, asset key, partition key(s) and the asset's ``iceberg_snapshot_props``."""
    if not isinstance(context, OutputContext):
        return {}
    properties = {
        name: value
        for name, value in span_attributes(context).items()
        if name != "dagster.step_key"
    }
    custom = (context.definition_metadata or {}).get(SNAPSHOT_PROPS_KEY)
    if isinstance(custom, MetadataValue):
        custom = custom.value
    if custom is not None:
        if not isinstance(custom, Mapping) or not all(isinstance(k, str) for k in custom):
            raise MetadataError(
                f"Metadata {SNAPSHOT_PROPS_KEY!r} must be a dict of name -> text; got {custom!r}."
            )
        properties.update({key: str(value) for key, value in custom.items()})
    return properties


def ensure_namespace(catalog: SqlCatalog, namespace: str) -> None:
    """Create the namespace unless it exists (a concurrent writer may create it meanwhile)."""
    from sqlalchemy.exc import IntegrityError

    try:
        catalog.create_namespace_if_not_exists(namespace)
    except IntegrityError:
        if not catalog.namespace_exists(namespace):
            raise


class IcebergClient(TableClient[IcebergSession]):
    """Iceberg tables in a SQL catalog behind the table-store interface.

    - ``key_constraints = False``: Iceberg has no constraints; upserts match ``primary_key``;
    - ``renders_expressions = False``: ``partition_expr`` names a column (Iceberg filters and
      partitions by columns), not an expression.

    Example::

        client = IcebergClient(settings)
        client.run(lambda session: client.table_info(session, table), write=False, context=c)
    """

    manager = MANAGER
    refused = REFUSED_DTYPES
    key_constraints = False
    renders_expressions = False
    metadata_aliases: ClassVar[Mapping[str, str]] = ALIASES

    def __init__(self, settings: IcebergSettings) -> None:
        self.settings = settings
        self.default_schema = settings.namespace
        self.default_write_mode = settings.default_write_mode
        self.snapshot_id: int | None = None

    # ---------------------------------------------------------------- connections

    def run(self, work: Callable[[IcebergSession], T], *, write: bool, context: Context) -> T:
        from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError

        catalog = self.settings.catalog()
        with storage_span(f"{MANAGER}.{'write' if write else 'read'}", context):
            if not write:
                return work(IcebergSession(catalog, {}))
            properties = snapshot_properties(context)

            def write_and_commit() -> T:
                # A lost race is redone from the start on the winner's snapshot.
                session = IcebergSession(catalog, properties)
                result = work(session)
                self.snapshot_id = session.commit()
                return result

            def log_conflict(retry: Retry) -> None:
                context.log.warning(f"Iceberg commit conflict, redoing the write: {retry.error}")

            lost_race = (CommitFailedException, TableAlreadyExistsError)
            attempts = self.settings.commit_attempts
            try:
                return retry_call(
                    write_and_commit,
                    retry_on=lambda error: isinstance(error, lost_race),
                    # Short jittered waits, so writers that raced do not collide again at once.
                    backoff=Backoff(attempts=attempts, initial_seconds=0.05, max_seconds=1.0),
                    on_retry=log_conflict,
                )
            except lost_race as error:
                raise IcebergCommitError(
                    f"{MANAGER}: another writer changed the table first on each of "
                    f"{attempts} attempts ({error}). Nothing was written; the table is "
                    "at that writer's snapshot. Retry the run, or raise commit_attempts."
                ) from error

    def location(self) -> str:
        return f"catalog {self.settings.catalog_location}, warehouse {self.settings.warehouse}"

    def load_hint(self) -> str:
        return "Or check catalog_uri and warehouse."

    def output_metadata(self) -> dict[str, MetadataValue]:
        metadata: dict[str, MetadataValue] = {
            "catalog": MetadataValue.text(self.settings.catalog_location),
            "warehouse": MetadataValue.text(self.settings.warehouse),
        }
        if self.snapshot_id is not None:
            metadata["iceberg/snapshot_id"] = MetadataValue.int(self.snapshot_id)
        return metadata

    # ---------------------------------------------------------------- names and types

    def display_name(self, table: TableName) -> str:
        return table.display(self.settings.catalog().name)

    def check_frame(self, frame: pl.DataFrame, asset: str) -> None:
        check_values(frame, asset)

    def frame_types(
        self, session: IcebergSession, frame: pl.DataFrame, asset: str
    ) -> dict[str, str]:
        from pyiceberg.catalog import Catalog

        schema = Catalog._convert_schema_if_needed(session.arrow(frame).schema)
        return {f.name: str(f.field_type) for f in schema.fields}

    def where(
        self, filters: Sequence[ColumnFilter], info: TableInfo, asset: str
    ) -> tuple[str, list[Any]]:
        """A description of the slice and, as the one parameter, its Iceberg row filter."""
        for column_filter in filters:
            check_filter_columns(column_filter, info, asset)
        expression = row_filter(filters, lambda column: self.temporal_kind(info, column, asset))
        return describe(filters), [expression]

    # ---------------------------------------------------------------- catalog and DDL

    def table_info(self, session: IcebergSession, table: TableName) -> TableInfo | None:
        metadata = session.metadata(table)
        if metadata is None:
            return None
        types = {f.name: str(f.field_type) for f in metadata.schema().fields}
        stored = metadata.properties.get(SCHEMA_PROPERTY)
        info = TableInfo(types, stored)
        order = info.polars_schema()
        if order is not None:  # the frame's column order, not the order columns were added in
            info.column_types = {name: types[name] for name in order}
        return info

    def create_table(self, session: IcebergSession, write: FrameWrite, types: Types) -> bool:
        table, frame = write.table, write.frame
        arrow = session.arrow(frame)
        if table in session.dropped and session.load(table) is not None:
            self._replace(session, table, frame, arrow)
            return True
        if not self.settings.infer_schema_from_data:
            raise MissingDataError(
                f"Asset {write.asset}: Iceberg table {table.display()} does not exist, and "
                f"{MANAGER}(infer_schema_from_data=False) does not create tables. Create it "
                "first (e.g. catalog.create_table((namespace, name), schema=...) with pyiceberg), "
                "or set infer_schema_from_data=True to create it from the first frame."
            )
        ensure_namespace(session.catalog, table.schema)
        pending = session.catalog.create_table_transaction(
            (table.schema, table.table),
            schema=arrow.schema,
            properties={SCHEMA_PROPERTY: encode_frame_schema(frame.schema)},
        )
        add_partition_fields(pending, write.filters)
        pending.append(arrow, snapshot_properties=session.properties)
        session.transactions[table] = pending
        session.dropped.discard(table)
        return True

    def _replace(
        self, session: IcebergSession, table: TableName, frame: pl.DataFrame, arrow: pa.Table
    ) -> None:
        """Give the table the frame's columns and rows in one commit (history is kept)."""
        from pyiceberg.catalog import Catalog
        from pyiceberg.expressions import AlwaysTrue

        session.dropped.discard(table)
        pending = session.transaction(table)
        _quiet_empty_deletes()
        pending.delete(AlwaysTrue(), snapshot_properties=session.properties)
        schema = Catalog._convert_schema_if_needed(arrow.schema)
        wanted = {f.name: f.field_type for f in schema.fields}
        current = pending.table_metadata.schema()
        stale = [f.name for f in current.fields if wanted.get(f.name) != f.field_type]
        if stale:
            with pending.update_schema(allow_incompatible_changes=True) as update:
                for name in stale:
                    update.delete_column(name)
        with pending.update_schema() as update:
            update.union_by_name(arrow.schema)
        self.store_schema(session, table, frame.schema)
        pending.append(arrow, snapshot_properties=session.properties)

    def store_schema(
        self, session: IcebergSession, table: TableName, schema: Mapping[str, pl.DataType]
    ) -> None:
        session.transaction(table).set_properties({SCHEMA_PROPERTY: encode_frame_schema(schema)})

    def drop_table(
        self, session: IcebergSession, table: TableName, *, missing_ok: bool = False
    ) -> None:
        # Deferred to the commit; a create in the same write replaces the table in place.
        session.dropped.add(table)

    def empty_table(self, session: IcebergSession, table: TableName) -> None:
        from pyiceberg.expressions import AlwaysTrue

        _quiet_empty_deletes()
        session.transaction(table).delete(AlwaysTrue(), snapshot_properties=session.properties)

    def add_column(
        self, session: IcebergSession, table: TableName, column: str, data_type: str
    ) -> None:
        import pyarrow as pa

        assert session.incoming is not None, "frame_types converted the frame first"
        with session.transaction(table).update_schema() as update:
            update.union_by_name(pa.schema([session.incoming.schema.field(column)]))

    # ---------------------------------------------------------------- data

    def delete_slice(
        self, session: IcebergSession, table: TableName, where: str, params: list[Any]
    ) -> None:
        _quiet_empty_deletes()
        session.transaction(table).delete(params[0], snapshot_properties=session.properties)

    def insert(self, session: IcebergSession, table: TableName, frame: pl.DataFrame) -> None:
        # pyiceberg matches the frame's columns to the table's by name, in any order.
        arrow = session.arrow(frame)
        session.transaction(table).append(arrow, snapshot_properties=session.properties)

    def upsert(
        self, session: IcebergSession, write: FrameWrite, types: Types, info: TableInfo
    ) -> None:
        from pyiceberg.table.upsert_util import create_match_filter

        # Every stored row of a key the frame holds is replaced (as on the other table stores),
        # in the write's one commit: delete them, then append the frame.
        arrow = session.arrow(write.frame)
        matches = create_match_filter(arrow, list(write.primary_key))
        self.delete_slice(session, write.table, "rows with the frame's keys", [matches])
        self.insert(session, write.table, write.frame)

    def count(
        self, session: IcebergSession, table: TableName, where: str, params: list[Any]
    ) -> int:
        from pyiceberg.io import load_file_io
        from pyiceberg.table import DataScan

        metadata = session.metadata(table)
        assert metadata is not None, "counted after the write, which made the table"
        io = load_file_io(session.catalog.properties, metadata.location)
        return DataScan(table_metadata=metadata, io=io, row_filter=params[0]).count()

    def read(self, session: IcebergSession, request: SliceRead) -> pl.DataFrame:
        from pyiceberg.expressions import And
        from pyiceberg.expressions.parser import parse

        table = session.load(request.table)
        assert table is not None, "the manager looked the table up first"
        expression: BooleanExpression = request.params[0]
        options = self.settings.read
        if options.row_filter:
            try:
                expression = And(expression, parse(options.row_filter))
            except Exception as error:
                raise MetadataError(
                    f"iceberg_partition_filter {options.row_filter!r} is not an Iceberg row "
                    f"filter ({error}); write it like \"symbol = 'BTC/USDT' and close > 0\"."
                ) from None
        snapshot_id = self._snapshot_id(table, request.table)
        columns = list(request.columns)
        snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
        if snapshot is not None and snapshot.schema_id is not None:
            # Columns added since that snapshot did not exist then.
            names = {f.name for f in table.schemas()[snapshot.schema_id].fields}
            columns = [c for c in columns if c in names]
        scan = table.scan(
            row_filter=expression,
            selected_fields=tuple(columns),
            snapshot_id=snapshot_id,
        )
        frame = pl.from_arrow(scan.to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame.select(columns)

    def _snapshot_id(self, table: Table, name: TableName) -> int | None:
        options = self.settings.read
        if options.snapshot_id is not None:
            if table.snapshot_by_id(options.snapshot_id) is None:
                raise MissingDataError(
                    f"Iceberg table {name.display()} has no snapshot {options.snapshot_id}; its "
                    f"snapshots: {[s.snapshot_id for s in table.snapshots()]}."
                )
            return options.snapshot_id
        if options.as_of is not None:
            millis = int(options.as_of.timestamp() * 1000)
            snapshot = table.snapshot_as_of_timestamp(millis)
            if snapshot is None:
                raise MissingDataError(
                    f"Iceberg table {name.display()} has no snapshot at or before "
                    f"{options.as_of.isoformat()}; pick a later time."
                )
            return snapshot.snapshot_id
        return None
