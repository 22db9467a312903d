"""KuzuDBIOManager: polars DataFrames as node and relationship tables of a Kuzu graph file.

A frame becomes a node table (label = metadata ``table`` or the last part of the asset key; key =
metadata ``primary_key``, one column), or a relationship table when the asset declares
``graph_rel`` metadata. Frames go in through Kuzu's bulk paths only: ``COPY T FROM $frame``
(columns put in table order first: COPY matches columns by position) or one
``LOAD FROM $frame ... MERGE`` statement for upserts. A write runs in one transaction, so a
failed load leaves the previous graph queryable. The engine is imported in ``_graphdb`` only.
See docs/io-manager-kuzu.md.
"""

from __future__ import annotations

import glob
import operator
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext
from pydantic import Field

from . import _graphdb
from .core.context import ContextT, asset_label, materialize_hint, output_context_of
from .core.errors import (
    IOManagerError,
    MetadataError,
    MissingDataError,
    SchemaDriftError,
    StorageLockedError,
    UnsafeNameError,
    UnsupportedTypeError,
)
from .core.files import fsync_directory, remove_abandoned_temp_files, writer_temp_prefix
from .core.frames import (
    check_no_drift,
    decode_frame_schema,
    encode_frame_schema,
    restore_dtypes,
    select_columns,
)
from .core.locks import retry_while_locked
from .core.metadata import StorageMetadata, storage_metadata
from .core.naming import validate_identifier
from .core.output_metadata import build_output_metadata
from .core.partitions import (
    ColumnFilter,
    TemporalKind,
    check_frame_in_selection,
    partition_selection,
    table_filters,
    window_bounds,
)
from .core.payloads import RefusedDtypes, ensure_loadable, ensure_supported

# Asset metadata key that makes an asset a relationship table (see docs/io-manager-kuzu.md).
GRAPH_REL_KEY = "graph_rel"
DEFAULT_FROM_KEY = "from_id"
DEFAULT_TO_KEY = "to_id"
_GRAPH_REL_FIELDS = ("from", "to", "from_key", "to_key")

# Property names the engine keeps for itself.
RESERVED_PROPERTIES = frozenset({"_id", "_label", "_src", "_dst"})

# Kuzu type names as the engine spells them for a frame (e.g. ``STRUCT(a INT64, b STRING[])``);
# anything else is refused before it reaches a DDL statement.
_TYPE_PATTERN = re.compile(r"[A-Za-z0-9_(), \[\]]+")
# encode_frame_schema output: a prefix and base64, safe inside a quoted Cypher literal.
_COMMENT_PATTERN = re.compile(r"[A-Za-z0-9+/=:_-]*")

_MANAGER = "KuzuDBIOManager"
# polars dtypes Kuzu cannot store and give back exactly, refused before anything is written.
REFUSED_DTYPES = RefusedDtypes(
    {
        pl.Time: "cast it to Int64 (e.g. pl.col(...).cast(pl.Duration).dt.total_microseconds())",
        pl.Int128: "cast it to Int64, or to pl.Decimal(38, 0)",
        pl.UInt128: "cast it to UInt64, or to pl.Decimal(38, 0)",
        pl.Float16: "cast it to Float32",
    },
    alternative="store it with FilesystemIOManager or S3IOManager (Parquet)",
)
_INT_MINIMUMS: dict[Any, int] = {pl.Int8: -(2**7), pl.Int16: -(2**15), pl.Int64: -(2**63)}

_DICT_FIX = (
    "Store dict payloads with an IO manager that keeps dicts (FilesystemIOManager, S3IOManager "
    "or InMemoryIOManager; in this project io_manager_key='extract_io_manager'), or return a "
    "polars.DataFrame of nodes or relationships."
)
_EXPLORER_HINT = (
    "If Kuzu Explorer holds it, point Explorer at the published snapshot (snapshot_path) "
    "instead of the live file: see docs/io-manager-kuzu.md."
)
_UNKNOWN_HOLDER = (
    "holder not visible from this process: e.g. Kuzu Explorer opened on this file, or a "
    "Dagster step of another run writing the graph"
)


class GraphWriteError(IOManagerError, RuntimeError):
    """Kuzu refused a load; the transaction was rolled back and the previous graph is intact."""


# --------------------------------------------------------------------------------------------
# What an asset's metadata asks for
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphRel:
    """``graph_rel`` metadata: the asset is a relationship table ``from -> to``.

    ``from_key`` and ``to_key`` name the frame columns holding the primary key values of the
    source and target nodes; the other columns are properties of the relationship.
    """

    from_label: str
    to_label: str
    from_key: str = DEFAULT_FROM_KEY
    to_key: str = DEFAULT_TO_KEY

    @property
    def endpoint_columns(self) -> tuple[str, str]:
        return (self.from_key, self.to_key)

    @classmethod
    def parse(cls, metadata: Mapping[str, Any] | None, *, asset: str) -> GraphRel | None:
        value = (metadata or {}).get(GRAPH_REL_KEY)
        if isinstance(value, MetadataValue):
            value = value.value
        if value is None:
            return None
        example = (
            f'{{"{GRAPH_REL_KEY}": {{"from": "Exchange", "to": "Market", '
            f'"from_key": "{DEFAULT_FROM_KEY}", "to_key": "{DEFAULT_TO_KEY}"}}}}'
        )
        if not isinstance(value, Mapping):
            raise MetadataError(
                f"Asset {asset}: metadata {GRAPH_REL_KEY!r} must be a dict like {example}; "
                f"got {value!r}."
            )
        unknown = sorted(set(value) - set(_GRAPH_REL_FIELDS))
        missing = [field for field in ("from", "to") if not value.get(field)]
        if unknown or missing:
            problem = (
                f"unknown key(s) {', '.join(map(str, unknown))}"
                if unknown
                else f"missing {', '.join(missing)}"
            )
            raise MetadataError(
                f"Asset {asset}: metadata {GRAPH_REL_KEY!r} has {problem}; expected {example} "
                "(from_key and to_key are optional)."
            )
        rel = cls(
            from_label=validate_identifier(value["from"], f"graph_rel 'from' label of {asset}"),
            to_label=validate_identifier(value["to"], f"graph_rel 'to' label of {asset}"),
            from_key=validate_identifier(
                value.get("from_key", DEFAULT_FROM_KEY), f"graph_rel from_key of {asset}"
            ),
            to_key=validate_identifier(
                value.get("to_key", DEFAULT_TO_KEY), f"graph_rel to_key of {asset}"
            ),
        )
        if rel.from_key.lower() == rel.to_key.lower():
            raise MetadataError(
                f"Asset {asset}: graph_rel from_key and to_key must be two different columns; "
                f"both are {rel.from_key!r}."
            )
        return rel


@dataclass(frozen=True)
class GraphTarget:
    """The table an output or input maps to, validated before the database is touched."""

    asset: str
    label: str
    meta: StorageMetadata
    rel: GraphRel | None
    filters: tuple[ColumnFilter, ...]
    partitioned: bool

    @property
    def kind(self) -> Literal["NODE", "REL"]:
        return "NODE" if self.rel is None else "REL"

    @property
    def variable(self) -> str:
        """The Cypher variable of this table's rows in the statements below."""
        return "n" if self.rel is None else "r"

    def describe(self) -> str:
        if self.rel is None:
            return f"node table {self.label}"
        return f"relationship table {self.label} ({self.rel.from_label} -> {self.rel.to_label})"


def graph_target(context: ContextT) -> GraphTarget:
    asset = asset_label(context)
    meta = storage_metadata(context)
    output = output_context_of(context)
    rel = GraphRel.parse(output.definition_metadata if output is not None else None, asset=asset)
    if meta.table:
        label = meta.table
    elif context.has_asset_key:
        label = context.asset_key.path[-1]
    else:
        label = output.name if output is not None else context.name
    label = validate_identifier(label, f"graph table (label) of asset {asset}")
    selection = partition_selection(context)
    filters = table_filters(selection, meta, asset=asset) if selection is not None else ()
    return GraphTarget(asset, label, meta, rel, filters, selection is not None)


def validate_frame(frame: pl.DataFrame, target: GraphTarget) -> None:
    """Refuse what Kuzu would refuse, or misread, before a connection is opened."""
    asset = target.asset
    if not frame.columns:
        raise MetadataError(f"Asset {asset}: the frame has no columns; nothing to store.")
    seen: dict[str, str] = {}
    for column in frame.columns:
        validate_identifier(column, f"property (column) of asset {asset}")
        if column.lower() in RESERVED_PROPERTIES:
            raise UnsafeNameError(
                f"Asset {asset}: column {column!r} is reserved by Kuzu "
                f"({', '.join(sorted(RESERVED_PROPERTIES))}); rename it."
            )
        # Kuzu property names are case-insensitive: "Price" and "price" would collide.
        if column.lower() in seen:
            raise UnsafeNameError(
                f"Asset {asset}: columns {seen[column.lower()]!r} and {column!r} differ only in "
                "case; Kuzu property names are case-insensitive. Rename one."
            )
        seen[column.lower()] = column
        _validate_nested_names(frame.schema[column], asset, column)
        null_struct = _null_struct_path(frame.get_column(column), column)
        if null_struct is not None:
            raise UnsupportedTypeError(
                f"Asset {asset}: {null_struct} holds null struct values. Kuzu 0.11.3 stores them "
                "but cannot return them (its Arrow export of a null STRUCT is malformed), so the "
                "data could not be loaded back. Fill them with a struct of nulls, or unnest the "
                "struct into columns (frame.unnest(...))."
            )
    for column_filter in target.filters:
        if column_filter.column not in frame.columns:
            raise MetadataError(
                f"Asset {asset}: 'partition_expr' names column {column_filter.column!r}, which "
                f"the frame does not have (columns: {', '.join(frame.columns)})."
            )

    if target.rel is None:
        key = _node_key(target)
        _check_key_columns(frame, [key], asset=asset, what="primary_key")
        duplicated = frame.filter(pl.col(key).is_duplicated()).get_column(key).unique()
        if duplicated.len():
            examples = ", ".join(repr(v) for v in duplicated.head(3).to_list())
            raise MetadataError(
                f"Asset {asset}: node table {target.label} needs one row per primary key "
                f"{key!r}, but the frame repeats {duplicated.len()} key value(s) (e.g. "
                f"{examples}). Deduplicate the frame first."
            )
        return

    rel = target.rel
    _check_key_columns(frame, list(rel.endpoint_columns), asset=asset, what="graph_rel key")
    if not [c for c in frame.columns if c not in rel.endpoint_columns] and target.filters:
        raise MetadataError(
            f"Asset {asset}: a partitioned relationship table needs its partition_expr column "
            "as a property of the relationship."
        )
    for column_filter in target.filters:
        if column_filter.column in rel.endpoint_columns:
            raise MetadataError(
                f"Asset {asset}: partition_expr {column_filter.column!r} is an endpoint key of "
                "the relationship; partition on a property of the relationship instead (e.g. "
                "a snapshot_date column)."
            )
    if target.meta.write_mode == "upsert":
        missing = [c for c in rel.endpoint_columns if c not in target.meta.primary_key]
        if missing:
            raise MetadataError(
                f"Asset {asset}: an upsert of relationships is keyed by both endpoints; add "
                f"{', '.join(missing)} to primary_key (e.g. "
                f'{{"primary_key": ["{rel.from_key}", "{rel.to_key}"]}}).'
            )
        _check_key_columns(frame, list(target.meta.primary_key), asset=asset, what="primary_key")
        key = list(target.meta.primary_key)
        repeated = frame.height - frame.select(key).n_unique()
        if repeated:
            raise MetadataError(
                f"Asset {asset}: the frame repeats {repeated} primary_key value(s) of {key}; "
                "an upsert needs one row per key. Deduplicate the frame first."
            )


def _node_key(target: GraphTarget) -> str:
    key = target.meta.primary_key
    if not key:
        raise MetadataError(
            f"Asset {target.asset}: a Kuzu node table needs a primary key; add "
            '@asset(metadata={"primary_key": "<column>"}), or declare '
            f'{{"{GRAPH_REL_KEY}": {{"from": ..., "to": ...}}}} to store relationships.'
        )
    if len(key) > 1:
        raise MetadataError(
            f"Asset {target.asset}: Kuzu node tables take a single-column primary key, got "
            f"{list(key)}. Add one column that combines them (e.g. pl.concat_str({list(key)}, "
            'separator="|")) and name it in primary_key.'
        )
    return key[0]


def _check_key_columns(frame: pl.DataFrame, columns: list[str], *, asset: str, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MetadataError(
            f"Asset {asset}: {what} column(s) {', '.join(missing)} are not in the frame "
            f"(columns: {', '.join(frame.columns)})."
        )
    nulls = frame.select(pl.any_horizontal(pl.col(columns).is_null()).sum()).item()
    if nulls:
        raise MetadataError(
            f"Asset {asset}: {nulls} row(s) have a null in {what} {columns}; keys must be set."
        )


def _contains_struct(dtype: pl.DataType) -> bool:
    if isinstance(dtype, pl.Struct):
        return True
    return isinstance(dtype, pl.List | pl.Array) and _contains_struct(dtype.inner)


def _null_struct_path(series: pl.Series, path: str) -> str | None:
    """Where ``series`` holds a null struct value (at any depth), or ``None``."""
    dtype = series.dtype
    if not _contains_struct(dtype):
        return None
    if isinstance(dtype, pl.Struct):
        if series.null_count():
            return path
        for field in dtype.fields:
            found = _null_struct_path(series.struct.field(field.name), f"{path}.{field.name}")
            if found is not None:
                return found
        return None
    lists = series.drop_nulls()
    if isinstance(dtype, pl.Array):
        lists = lists.cast(pl.List(dtype.inner))
    # Empty lists would explode into nulls that are not null structs: leave them out.
    elements = lists.filter(lists.list.len() > 0).list.explode()
    return _null_struct_path(elements, f"{path}[]")


def _validate_nested_names(dtype: pl.DataType, asset: str, path: str) -> None:
    """Struct field names end up in DDL type strings, so they follow the identifier rule too."""
    if isinstance(dtype, pl.Struct):
        for field in dtype.fields:
            validate_identifier(field.name, f"struct field of column {path} of asset {asset}")
            _validate_nested_names(field.dtype, asset, f"{path}.{field.name}")
    elif isinstance(dtype, pl.List | pl.Array):
        _validate_nested_names(dtype.inner, asset, path)


# --------------------------------------------------------------------------------------------
# The IO manager
# --------------------------------------------------------------------------------------------


class KuzuDBIOManager(ConfigurableIOManager):
    """Stores polars DataFrames as node or relationship tables of a Kuzu database file.

    Node tables: label from metadata ``table`` (else the last part of the asset key), key from
    ``primary_key`` (one column). Relationship tables: metadata
    ``graph_rel: {"from": <label>, "to": <label>, "from_key": <column>, "to_key": <column>}``.
    Partitioned assets need ``partition_expr`` (a DATE/TIMESTAMP property); ``write_mode``
    overwrite (default), append or upsert; ``columns`` on inputs. :meth:`query` runs read-only
    Cypher with parameters and returns a polars DataFrame.
    """

    db_path: str = Field(description="Path of the Kuzu database file (created on first write).")
    lock_timeout_seconds: float = Field(
        default=60.0,
        description="How long to retry while another process holds the database file.",
    )
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

    # ---------------------------------------------------------------- connections

    @contextmanager
    def _connect(self, *, read_only: bool, log: Any = None) -> Iterator[Any]:
        """A database and connection for one operation, both closed afterwards.

        Nothing stays open between operations, so a run never holds the file between steps.
        """
        engine = _graphdb.graphdb()
        path = Path(self.db_path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)

        def open_database() -> tuple[Any, Any]:
            # Asking /proc/locks first spares an attempt the engine would fail anyway (and each
            # failed open leaks a file descriptor in kuzu 0.11.3).
            holders = lock_holders(path, exclusive=not read_only)
            if holders:
                raise _HeldElsewhere(path, holders)
            database = engine.Database(str(path), read_only=read_only)
            try:
                return database, engine.Connection(database)
            except BaseException:
                database.close()
                raise

        retries: list[float] = []

        def log_retry(error: BaseException, wait: float) -> None:
            if log is None:
                return
            # One info line per operation; the rest at debug, so a long wait does not flood logs.
            emit = log.debug if retries else log.info
            retries.append(wait)
            emit(
                f"Kuzu database {path} is held by another process; retrying for up to "
                f"{self.lock_timeout_seconds:g}s ({error})"
            )

        try:
            database, connection = retry_while_locked(
                open_database,
                is_locked=lambda error: (
                    isinstance(error, _HeldElsewhere) or _graphdb.is_lock_error(error)
                ),
                timeout_seconds=self.lock_timeout_seconds,
                resource=f"Kuzu database {path}",
                holder=lambda _error: describe_lock_holders(path),
                on_retry=log_retry,
            )
        except StorageLockedError as error:
            raise StorageLockedError(f"{error} {_EXPLORER_HINT}") from error.__cause__
        try:
            yield connection
        finally:
            connection.close()
            database.close()

    def query(self, cypher: str, parameters: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run one read-only Cypher statement; values go in ``parameters`` (``$name``)."""
        if not Path(self.db_path).exists():
            raise MissingDataError(
                f"The Kuzu database {self.db_path} does not exist yet: materialize the graph "
                "assets first."
            )
        with self._connect(read_only=True) as connection:
            return connection.execute(cypher, dict(parameters or {})).get_as_pl()

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
        check_frame_in_selection(frame, target.filters, asset=target.asset)

        def write(connection: Any) -> tuple[int, StoredTable]:
            with _transaction(connection):
                try:
                    return _write(connection, target, frame)
                except IOManagerError:
                    raise
                except RuntimeError as error:
                    raise GraphWriteError(_write_error_message(target, error)) from error

        def publish(connection: Any, source: Path) -> None:
            if self.snapshot_path:
                self._publish_snapshot(connection, context, source=source)

        if self.replace_atomically:
            with self._connect_to_copy(log=context.log, after_checkpoint=publish) as connection:
                row_count, stored = write(connection)
        else:
            with self._connect(read_only=False, log=context.log) as connection:
                row_count, stored = write(connection)
                publish(connection, Path(self.db_path))

        metadata = build_output_metadata(
            frame,
            partitioned=target.partitioned,
            table_name=f"{Path(self.db_path).stem}.{target.label}",
            row_count=row_count,
            write_mode=target.meta.write_mode,
        )
        metadata["graph_table"] = MetadataValue.text(stored.describe())
        context.add_output_metadata(metadata)

    @contextmanager
    def _connect_to_copy(
        self, *, log: Any, after_checkpoint: Callable[[Any, Path], None]
    ) -> Iterator[Any]:
        """A connection to a private copy of the database, renamed over it when all went well.

        Writers take the writer lock file first, so they queue instead of copying the same
        version. Opening the live file for writing then waits for other holders (Explorer, a
        shell) and recovers it if needed; its checkpoint leaves the whole graph in the one file,
        which is copied. The caller's transaction runs on the copy; after a checkpoint the copy
        is fsynced and replaces the live file with ``os.replace``. Readers see the old file or
        the new one; a failed or killed writer leaves only a hidden temp file, which the next
        write removes.
        """
        engine = _graphdb.graphdb()
        path = Path(self.db_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._writer_lock(log=log):
            remove_abandoned_temp_files(path)
            if path.exists():
                with self._connect(read_only=False, log=log) as live:
                    live.execute("CHECKPOINT")
            handle, temp_name = tempfile.mkstemp(
                dir=path.parent, prefix=writer_temp_prefix(path), suffix=".tmp"
            )
            os.close(handle)
            copy = Path(temp_name)
            try:
                if path.exists():
                    shutil.copyfile(path, copy)
                    shutil.copymode(path, copy)  # mkstemp made it private
                else:
                    copy.unlink()  # the engine creates a new database itself
                database = engine.Database(str(copy))
                try:
                    connection = engine.Connection(database)
                    try:
                        yield connection
                        connection.execute("CHECKPOINT")
                        after_checkpoint(connection, copy)
                    finally:
                        connection.close()
                finally:
                    database.close()
                for side_file in copy.parent.glob(f"{glob.escape(copy.name)}.*"):
                    if side_file.stat().st_size:
                        raise GraphWriteError(
                            f"Kuzu left {side_file} after the checkpoint; the live database "
                            f"{path} is unchanged. Retry the write."
                        )
                    side_file.unlink()
                with open(copy, "rb") as written:
                    os.fsync(written.fileno())
                os.replace(copy, path)
                fsync_directory(path.parent)
            except BaseException:
                for leftover in [copy, *copy.parent.glob(f"{glob.escape(copy.name)}.*")]:
                    with suppress(FileNotFoundError):
                        leftover.unlink()
                raise

    @contextmanager
    def _writer_lock(self, *, log: Any) -> Iterator[None]:
        """Hold the writer lock file of the database (one writing process at a time)."""
        import fcntl

        path = Path(self.db_path)
        lock_path = path.with_name(f".{path.name}.writer.lock")
        retries: list[float] = []

        def log_retry(error: BaseException, wait: float) -> None:
            emit = log.debug if retries else log.info
            retries.append(wait)
            emit(
                f"Kuzu database {path} is held by another process; retrying for up to "
                f"{self.lock_timeout_seconds:g}s (writer lock {lock_path})"
            )

        with open(lock_path, "a+b") as lock_file:
            retry_while_locked(
                lambda: fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB),
                is_locked=lambda error: isinstance(error, BlockingIOError),
                timeout_seconds=self.lock_timeout_seconds,
                resource=f"Kuzu database {path}",
                holder=lambda _error: describe_lock_holders(lock_path),
                on_retry=log_retry,
            )
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _publish_snapshot(self, connection: Any, context: OutputContext, *, source: Path) -> None:
        """Copy the committed database to ``snapshot_path`` atomically (temp file + rename).

        Runs while this process still holds the file, after a checkpoint, so the copy is
        complete and consistent. Readers of the snapshot keep the inode they opened, so they
        never block or see a half-written file; they see the new graph when they reopen.
        """
        assert self.snapshot_path is not None
        target = Path(self.snapshot_path)
        try:
            connection.execute("CHECKPOINT")
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            try:
                with os.fdopen(handle, "wb") as out, open(source, "rb") as database_file:
                    while chunk := database_file.read(1 << 20):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                    # mkstemp makes the file private; readers (Explorer's container user) need
                    # the database file's own permissions.
                    os.chmod(temp_name, os.stat(database_file.fileno()).st_mode & 0o777)
                os.replace(temp_name, target)
            except BaseException:
                with suppress(FileNotFoundError):
                    os.unlink(temp_name)
                raise
        except (OSError, RuntimeError) as error:
            # The graph itself is committed; a stale snapshot is not worth failing the run.
            context.log.warning(f"Could not publish the Kuzu snapshot {target}: {error}")

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
        with self._connect(read_only=True, log=context.log) as connection:
            stored = _stored_table(connection, target.label)
            if stored is None:
                raise MissingDataError(
                    f"Cannot load asset {target.asset}: {target.describe()} does not exist in "
                    f"{self.db_path}. {hint}"
                )
            _check_kind(stored, target)
            columns = stored.columns(target.rel)
            selected = select_columns(
                columns, target.meta.columns, asset=target.asset, where=stored.describe()
            )
            where, params = _where(target, stored)
            returns = ", ".join(
                f"{_expression(stored, target, c)} AS {_quote(c)}" for c in selected or columns
            )
            query = (
                f"{_match(stored, target)} WHERE {where} RETURN {returns} "
                f"ORDER BY offset(ID({target.variable}))"
            )
            context.log.debug(f"Loading {target.asset}: {query} {params}")
            frame = connection.execute(query, params).get_as_pl()
        if selected is None and stored.written is not None:
            # Columns in the order they were written (the table keeps endpoint keys first).
            written_order = [c for c in stored.written if c in frame.columns]
            frame = frame.select(
                written_order + [c for c in frame.columns if c not in written_order]
            )
        return restore_dtypes(frame, stored.written)


# --------------------------------------------------------------------------------------------
# The catalog
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredTable:
    """A table as the database has it."""

    name: str
    kind: Literal["NODE", "REL"]
    properties: dict[str, str]  # name -> Kuzu type, in table order
    primary_key: str | None  # node tables
    endpoints: tuple[str, str, str, str] | None  # rel: from label, to label, from pk, to pk
    written: pl.Schema | None  # the polars schema of the frame that created it

    def columns(self, rel: GraphRel | None) -> list[str]:
        """Frame columns in table order: endpoint keys first for relationships."""
        keys = list(rel.endpoint_columns) if rel is not None and self.kind == "REL" else []
        return [*keys, *self.properties]

    def describe(self) -> str:
        if self.kind == "NODE":
            return f"node table {self.name} (primary key {self.primary_key})"
        assert self.endpoints is not None
        return f"relationship table {self.name} ({self.endpoints[0]} -> {self.endpoints[1]})"


def _rows(connection: Any, statement: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    return connection.execute(statement, dict(params or {})).get_all()


def _stored_table(connection: Any, label: str) -> StoredTable | None:
    """The catalog entry of ``label`` (Kuzu names are case-insensitive), or ``None``."""
    tables = _rows(connection, "CALL show_tables() RETURN name, type, comment")
    match = next((row for row in tables if row[0].lower() == label.lower()), None)
    if match is None:
        return None
    name, kind, comment = match
    # CALL arguments must be literals; the name comes from the catalog and is validated.
    literal = f"'{validate_identifier(name, 'graph table')}'"
    info = _rows(connection, f"CALL table_info({literal}) RETURN *")
    properties = {row[1]: row[2] for row in info}
    if kind == "NODE":
        primary_key = next(row[1] for row in info if row[4] is True)
        return StoredTable(name, "NODE", properties, primary_key, None, _decode(comment))
    if kind != "REL":
        raise MetadataError(
            f"Graph table {name} is a {kind} table, which this manager does not use."
        )
    connection_rows = _rows(connection, f"CALL show_connection({literal}) RETURN *")
    if len(connection_rows) != 1:
        raise MetadataError(
            f"Relationship table {name} connects several node table pairs; this manager stores "
            "relationship tables with one FROM/TO pair."
        )
    from_label, to_label, from_pk, to_pk = connection_rows[0][:4]
    endpoints = (from_label, to_label, from_pk, to_pk)
    return StoredTable(name, "REL", properties, None, endpoints, _decode(comment))


def _decode(comment: str | None) -> pl.Schema | None:
    return decode_frame_schema(comment) if comment else None


def _check_kind(stored: StoredTable, target: GraphTarget) -> None:
    if stored.kind != target.kind:
        raise MetadataError(
            f"Asset {target.asset} is a {target.describe()}, but the database holds "
            f"{stored.describe()}. Rename one of them (metadata 'table'), or fix "
            f"{GRAPH_REL_KEY!r}."
        )
    if target.rel is not None and stored.endpoints is not None:
        declared = (target.rel.from_label.lower(), target.rel.to_label.lower())
        actual = (stored.endpoints[0].lower(), stored.endpoints[1].lower())
        if declared != actual:
            raise MetadataError(
                f"Asset {target.asset} declares {target.describe()}, but the database holds "
                f"{stored.describe()}."
            )
    declared_key = target.meta.primary_key[0] if target.meta.primary_key else None
    if (
        target.rel is None
        and declared_key is not None
        and declared_key.lower() != (stored.primary_key or "").lower()
    ):
        raise MetadataError(
            f"Asset {target.asset}: metadata primary_key is {declared_key!r}, but "
            f"{stored.describe()} is keyed by {stored.primary_key!r}. Kuzu cannot change a "
            "primary key in place: drop the table (DROP TABLE) to let the next write recreate it."
        )


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


@contextmanager
def _transaction(connection: Any) -> Iterator[None]:
    connection.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        # Kuzu rolls a transaction back itself when one of its statements fails.
        with suppress(RuntimeError):
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _write(connection: Any, target: GraphTarget, frame: pl.DataFrame) -> tuple[int, StoredTable]:
    """Write inside the caller's transaction; return the rows of the slice after, and the table."""
    meta = target.meta
    incoming = _frame_types(connection, frame)
    stored = _stored_table(connection, target.label)
    replace_table = meta.write_mode == "overwrite" and not target.filters
    if stored is not None:
        _check_kind(stored, target)
        drift = _drift(stored, target, frame, incoming)
        if drift is not None and replace_table:
            _drop_table(connection, stored, target)
            stored = None
        elif drift is not None:
            raise drift
    if stored is None:
        stored = _create_table(connection, target, frame, incoming)
    elif meta.write_mode == "overwrite":
        where, params = _where(target, stored)
        detach = "DETACH " if stored.kind == "NODE" else ""
        connection.execute(
            f"{_match(stored, target, endpoints=False)} WHERE {where} "
            f"{detach}DELETE {target.variable}",
            params,
        )

    ordered = frame.select(stored.columns(target.rel))
    if meta.write_mode == "upsert" and stored.kind == "NODE":
        _merge_nodes(connection, stored, ordered)
    else:
        if meta.write_mode == "upsert":
            _delete_matching_relationships(connection, stored, target, frame)
        # COPY matches columns by position: `ordered` is in table order (endpoint keys first).
        connection.execute(f"COPY {_quote(stored.name)} FROM $frame", {"frame": ordered})

    where, params = _where(target, stored)
    count = _rows(
        connection,
        f"{_match(stored, target, endpoints=False)} WHERE {where} RETURN count(*)",
        params,
    )
    return int(count[0][0]), stored


def _frame_types(connection: Any, frame: pl.DataFrame) -> dict[str, str]:
    """The Kuzu type of each column, as the engine reads the frame."""
    result = connection.execute("LOAD FROM $frame RETURN * LIMIT 0", {"frame": frame.head(0)})
    types = dict(zip(result.get_column_names(), result.get_column_data_types(), strict=True))
    for column, kuzu_type in types.items():
        if not _TYPE_PATTERN.fullmatch(kuzu_type):
            raise UnsafeNameError(f"Unexpected Kuzu type {kuzu_type!r} for column {column!r}.")
    return types


def _create_table(
    connection: Any, target: GraphTarget, frame: pl.DataFrame, incoming: dict[str, str]
) -> StoredTable:
    label = _quote(target.label)
    if target.rel is None:
        key = _node_key(target)
        columns = ", ".join(f"{_quote(c)} {incoming[c]}" for c in frame.columns)
        connection.execute(f"CREATE NODE TABLE {label}({columns}, PRIMARY KEY({_quote(key)}))")
    else:
        rel = target.rel
        for endpoint in (rel.from_label, rel.to_label):
            found = _stored_table(connection, endpoint)
            if found is None or found.kind != "NODE":
                raise MissingDataError(
                    f"Asset {target.asset}: {target.describe()} needs node table {endpoint}, "
                    "which does not exist yet. Materialize the node assets first (in the same "
                    "run, before this one)."
                )
        properties = "".join(
            f", {_quote(c)} {incoming[c]}" for c in frame.columns if c not in rel.endpoint_columns
        )
        connection.execute(
            f"CREATE REL TABLE {label}(FROM {_quote(rel.from_label)} "
            f"TO {_quote(rel.to_label)}{properties})"
        )
    # The comment keeps the polars dtypes that Kuzu types do not carry (time zones,
    # categoricals, enums) so loads restore them. It is base64: no quote can end the literal.
    comment = encode_frame_schema(frame.schema)
    if not _COMMENT_PATTERN.fullmatch(comment):
        raise IOManagerError(f"Unexpected characters in the encoded schema {comment!r}.")
    connection.execute(f"COMMENT ON TABLE {label} IS '{comment}'")
    stored = _stored_table(connection, target.label)
    assert stored is not None
    return stored


def _drift(
    stored: StoredTable, target: GraphTarget, frame: pl.DataFrame, incoming: dict[str, str]
) -> SchemaDriftError | None:
    where = f"{stored.describe()}"
    try:
        if stored.written is not None and set(stored.written) == set(stored.columns(target.rel)):
            check_no_drift(stored.written, frame.schema, asset=target.asset, where=where)
        else:
            # Table made outside this manager (or altered since): compare Kuzu types.
            endpoint_columns = target.rel.endpoint_columns if target.rel is not None else ()
            properties = {c: t for c, t in incoming.items() if c not in endpoint_columns}
            check_no_drift(
                stored.properties,
                properties,
                asset=target.asset,
                where=where,
                compatible=operator.eq,
            )
    except SchemaDriftError as error:
        return error
    return None


def _drop_table(connection: Any, stored: StoredTable, target: GraphTarget) -> None:
    """Drop a table whose schema changed, for an unpartitioned overwrite to recreate it."""
    if stored.kind == "NODE":
        referencing = []
        for name, kind in _rows(connection, "CALL show_tables() RETURN name, type"):
            if kind != "REL":
                continue
            other = _stored_table(connection, name)
            endpoints = other.endpoints[:2] if other is not None and other.endpoints else ()
            if stored.name.lower() in (label.lower() for label in endpoints):
                referencing.append(name)
        if referencing:
            raise SchemaDriftError(
                f"Asset {target.asset}: the frame's columns differ from {stored.describe()}, "
                f"and the table cannot be replaced while relationship table(s) "
                f"{', '.join(referencing)} reference it. Return the stored columns, or drop "
                f"those relationship tables first (DROP TABLE {referencing[0]})."
            )
    connection.execute(f"DROP TABLE {_quote(stored.name)}")


def _merge_nodes(connection: Any, stored: StoredTable, ordered: pl.DataFrame) -> None:
    """Upsert nodes in one statement: MERGE on the key, SET every other property."""
    assert stored.primary_key is not None
    aliases = {column: f"v{i}" for i, column in enumerate(ordered.columns)}
    projection = ", ".join(f"{_quote(c)} AS {alias}" for c, alias in aliases.items())
    key_column = next(c for c in ordered.columns if c.lower() == stored.primary_key.lower())
    assignments = ", ".join(
        f"n.{_quote(c)} = {alias}" for c, alias in aliases.items() if c != key_column
    )
    statement = (
        f"LOAD FROM $frame WITH {projection} "
        f"MERGE (n:{_quote(stored.name)} {{{_quote(stored.primary_key)}: {aliases[key_column]}}})"
    )
    if assignments:
        statement += f" ON MATCH SET {assignments} ON CREATE SET {assignments}"
    connection.execute(statement, {"frame": ordered})


def _delete_matching_relationships(
    connection: Any, stored: StoredTable, target: GraphTarget, frame: pl.DataFrame
) -> None:
    """Upsert of relationships: delete those whose key matches a row, then COPY the frame."""
    assert target.rel is not None
    keys = frame.select(target.meta.primary_key)
    aliases = {column: f"k{i}" for i, column in enumerate(keys.columns)}
    projection = ", ".join(f"{_quote(c)} AS {alias}" for c, alias in aliases.items())
    conditions = " AND ".join(
        f"{_expression(stored, target, column)} = {alias}" for column, alias in aliases.items()
    )
    connection.execute(
        f"LOAD FROM $keys WITH {projection} {_match(stored, target)} WHERE {conditions} DELETE r",
        {"keys": keys},
    )


def _write_error_message(target: GraphTarget, error: RuntimeError) -> str:
    text = str(error)
    hint = ""
    if "duplicated primary key" in text:
        hint = (
            " A node with this key already exists outside the partition(s) being written: "
            "include the partition in the key, or use write_mode 'upsert'."
        )
    elif "Unable to find primary key" in text:
        hint = (
            " A relationship points at a node that does not exist: write the node assets "
            "first, and check the graph_rel from_key/to_key columns."
        )
    return (
        f"Asset {target.asset}: Kuzu refused the write to {target.describe()}; the transaction "
        f"was rolled back and the previous graph is unchanged. {text}.{hint}"
    )


# --------------------------------------------------------------------------------------------
# Cypher pieces: identifiers validated and back-quoted, values always parameters
# --------------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    """A validated identifier in backquotes (reserved words like ``limit`` stay usable)."""
    return "`" + validate_identifier(name, "graph identifier") + "`"


def _match(stored: StoredTable, target: GraphTarget, *, endpoints: bool = True) -> str:
    if stored.kind == "NODE":
        return f"MATCH (n:{_quote(stored.name)})"
    assert stored.endpoints is not None
    if not endpoints:
        return f"MATCH ()-[r:{_quote(stored.name)}]->()"
    source, destination = (_quote(label) for label in stored.endpoints[:2])
    return f"MATCH (a:{source})-[r:{_quote(stored.name)}]->(b:{destination})"


def _expression(stored: StoredTable, target: GraphTarget, column: str) -> str:
    """The Cypher expression of a frame column: a property, or an endpoint's key."""
    if stored.kind == "REL" and target.rel is not None and stored.endpoints is not None:
        if column == target.rel.from_key:
            return f"a.{_quote(stored.endpoints[2])}"
        if column == target.rel.to_key:
            return f"b.{_quote(stored.endpoints[3])}"
    return f"{target.variable}.{_quote(column)}"


def _where(target: GraphTarget, stored: StoredTable) -> tuple[str, dict[str, Any]]:
    """The condition selecting the target's partitions, and its parameters."""
    params: dict[str, Any] = {}

    def marker(value: Any) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f"${name}"

    clauses = []
    for column_filter in target.filters:
        prop = f"{target.variable}.{_quote(column_filter.column)}"
        if column_filter.windows is not None:
            kind = _temporal_kind(stored, column_filter.column, target.asset)
            parts = []
            for window in column_filter.windows:
                start, end = window_bounds(window, kind)
                parts.append(f"({prop} >= {marker(start)} AND {prop} < {marker(end)})")
            clauses.append("(" + " OR ".join(parts) + ")" if parts else "false")
        else:
            clauses.append(f"{prop} IN {marker(list(column_filter.values or ()))}")
    return (" AND ".join(clauses) or "true"), params


def _temporal_kind(stored: StoredTable, column: str, asset: str) -> TemporalKind:
    kuzu_type = next((t for c, t in stored.properties.items() if c.lower() == column.lower()), None)
    if kuzu_type is None:
        raise MetadataError(
            f"Asset {asset}: partition_expr column {column!r} is not a property of "
            f"{stored.describe()} (properties: {', '.join(stored.properties)})."
        )
    if kuzu_type == "DATE":
        return "date"
    if kuzu_type.startswith("TIMESTAMP"):
        # Kuzu TIMESTAMP holds UTC instants without a zone: bind naive UTC bounds.
        return "timestamp"
    raise MetadataError(
        f"Asset {asset}: partition_expr column {column!r} has type {kuzu_type}; a time "
        "partition needs a DATE or TIMESTAMP property."
    )


# --------------------------------------------------------------------------------------------
# The single-writer lock: who holds it
# --------------------------------------------------------------------------------------------


class _HeldElsewhere(Exception):
    """Another process holds a conflicting lock on the database file (seen in /proc/locks)."""

    def __init__(self, path: Path, holders: Sequence[int]) -> None:
        pids = ", ".join(str(pid) for pid in holders)
        super().__init__(f"Kuzu database file {path} is locked by PID {pids} (/proc/locks).")


_PROC_LOCKS = Path("/proc/locks")


def lock_holders(path: Path, *, exclusive: bool) -> list[int]:
    """PIDs of other processes whose lock on ``path`` conflicts; empty if none or unknowable.

    Reads Linux's /proc/locks (Kuzu takes a POSIX lock: WRITE for writers, READ for read-only
    opens). Elsewhere this returns nothing and the engine's own open reports the conflict.
    """
    try:
        stat = path.stat()
        lines = _PROC_LOCKS.read_text().splitlines()
    except OSError:
        return []
    file_id = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    holders = []
    for line in lines:
        fields = line.split()
        # "<n>: POSIX ADVISORY WRITE <pid> <maj:min:inode> <start> <end>"; "->" marks waiters.
        if len(fields) < 6 or fields[1] == "->" or fields[5] != file_id:
            continue
        mode, pid = fields[3], int(fields[4])
        if pid > 0 and pid != os.getpid() and (exclusive or mode == "WRITE"):
            holders.append(pid)
    return sorted(set(holders))


def describe_lock_holders(path: Path) -> str:
    """Who holds ``path``, for the error raised when waiting for it times out."""
    holders = lock_holders(path, exclusive=True)
    if not holders:
        return _UNKNOWN_HOLDER
    return "; ".join(f"PID {pid}: {_command_line(pid)}" for pid in holders)


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "command unknown"
    text = " ".join(raw.decode(errors="replace").replace("\0", " ").split()) or "command unknown"
    return text if len(text) <= 120 else text[:119] + "…"


def check_kuzu_values(frame: pl.DataFrame, *, asset: str) -> None:
    """Refuse values Kuzu 0.11.3 changes silently on a bulk load (checked on this version)."""
    for name, dtype in frame.schema.items():
        column = frame.get_column(name)
        problem = fix = None
        if dtype in (pl.Float32, pl.Float64) and column.is_nan().any():
            # A float column with NaN and nulls comes back with later values turned into NaN.
            problem, fix = "NaN", "replace NaN with null first: pl.col(...).fill_nan(None)"
        elif dtype in (pl.Int8, pl.Int16, pl.Int64) and column.min() == _INT_MINIMUMS[dtype]:
            # The minimum of INT8, INT16 and INT64 is loaded as 0.
            problem = f"the value {_INT_MINIMUMS[dtype]} (the minimum of {dtype})"
            fix = "cast the column to a wider type (e.g. pl.Decimal(38, 0))"
        elif isinstance(dtype, pl.Decimal) and (dtype.precision or 38) <= 18 and (column < 0).any():
            # Negative decimals of precision <= 18 are loaded as large positive numbers.
            problem = f"negative values in {dtype}"
            fix = f"cast it to pl.Decimal(38, {dtype.scale})"
        if problem is not None:
            raise UnsupportedTypeError(
                f"KuzuDBIOManager cannot store column {name!r} of asset {asset}: Kuzu 0.11.3 does "
                f"not load {problem} exactly. Before returning the frame, {fix}."
            )
