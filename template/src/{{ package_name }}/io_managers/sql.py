"""SQLIOManager: polars DataFrames as PostgreSQL or SQLite tables, partitions as table slices.

PostgreSQL: frames go in through ``COPY ... FROM STDIN (FORMAT binary)``, encoded column by
column with Arrow kernels (no Python loop over rows), and come out through ``COPY ... TO STDOUT
(FORMAT csv)`` parsed by polars. SQLite: one ``executemany`` per write. Every write (delete of the
slice + insert, or create + insert) is one transaction, so a failure leaves the previous data in
place. Identifiers are validated and quoted by :mod:`.base`; values are always bound parameters.
See docs/io-manager-sql.md.
"""

from __future__ import annotations

import array
import hashlib
import operator
import re
import struct
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import polars as pl
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext
from pydantic import Field, PrivateAttr

from .core.context import asset_label, materialize_hint
from .core.errors import (
    IOManagerError,
    MetadataError,
    MissingDataError,
    SchemaDriftError,
    UnsupportedTypeError,
)
from .core.frames import (
    check_no_drift,
    check_primary_key,
    decode_frame_schema,
    encode_frame_schema,
    restore_dtypes,
    select_columns,
)
from .core.metadata import StorageMetadata, storage_metadata
from .core.naming import TableName, quote_identifier, resolve_table, validate_identifier
from .core.output_metadata import build_output_metadata
from .core.partitions import (
    ColumnFilter,
    TemporalKind,
    build_where_clause,
    check_frame_in_selection,
    partition_selection,
    table_filters,
)
from .core.payloads import ensure_loadable, ensure_supported

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import URL, Engine

T = TypeVar("T")
DbType = Literal["postgresql", "sqlite"]
SchemaEvolution = Literal["error", "add_columns"]

MANAGER = "SQLIOManager"
# Session-local staging table of upserts (PostgreSQL: ON COMMIT DROP; SQLite: dropped after use).
STAGE_TABLE = "dagster_incoming_frame"
# SQLite has no schemas: it keeps the written polars schemas in this table of the same file.
SQLITE_SCHEMA_TABLE = "dagster_polars_schemas"
# Rows per COPY chunk: bounds the memory of the encoded copy of the frame.
COPY_CHUNK_ROWS = 100_000

_DICT_FIX = (
    "Store dict payloads with an IO manager that keeps dicts (FilesystemIOManager, S3IOManager "
    "or InMemoryIOManager; in this project io_manager_key='extract_io_manager'), or return a "
    "polars.DataFrame."
)
# The stored-schema text is ``dagster-polars-schema:v1:<base64>``; it is checked against this
# before it is written as a SQL literal (COMMENT ON takes no bound parameters).
_SCHEMA_TEXT = re.compile(r"[A-Za-z0-9:+/=-]+")


class SQLConnectionError(IOManagerError, ConnectionError):
    """The database could not be reached; the message shows the URL with the password masked."""


class _ServerUnavailable(Exception):
    """The server could not be reached, or dropped the connection before COMMIT: retryable.

    Either way no transaction of ours was committed, so running the operation again is safe.
    """

    def __init__(self, reason: str, *, phase: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.phase = phase


# SQLSTATEs of a server that is unreachable, shutting down or starting up (class 08: connection
# exception; 57P01-57P03: admin/crash shutdown, cannot connect now). Anything else (wrong
# password 28P01, unknown database 3D000) would fail again the same way: not retried.
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03"})
# Backoff between attempts to reach PostgreSQL: 0.5 s, 1 s, 2 s ... at most 5 s.
_RETRY_BACKOFF_SECONDS = 0.5
_MAX_RETRY_BACKOFF_SECONDS = 5.0


# ============================================================================================
# Type map (docs/io-manager-sql.md lists it)
# ============================================================================================


@dataclass(frozen=True)
class _ColumnType:
    """How one polars dtype is stored: the SQL type of each backend."""

    postgres: str
    sqlite: str


def column_type(dtype: pl.DataType, *, column: str, asset: str) -> _ColumnType:
    """The SQL types of a polars dtype, or :class:`UnsupportedTypeError` naming the column.

    PostgreSQL type names are spelled as ``format_type()`` prints them, so a table's types can be
    compared with the frame's. SQLite names are chosen for their type affinity (see SQLite's
    "Datatypes" page): TEXT where the value is text that must not be converted to a number.
    """
    if dtype == pl.Boolean:
        return _ColumnType("boolean", "BOOLEAN")
    if dtype in (pl.Int8, pl.Int16, pl.UInt8):
        return _ColumnType("smallint", "INTEGER")
    if dtype in (pl.Int32, pl.UInt16):
        return _ColumnType("integer", "INTEGER")
    if dtype in (pl.Int64, pl.UInt32):
        return _ColumnType("bigint", "INTEGER")
    if dtype == pl.UInt64:
        return _ColumnType("numeric(20,0)", "TEXT")
    if dtype == pl.Float32:
        return _ColumnType("real", "REAL")
    if dtype == pl.Float64:
        return _ColumnType("double precision", "REAL")
    if isinstance(dtype, pl.Decimal):
        return _ColumnType(f"numeric({dtype.precision},{dtype.scale})", "TEXT")
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return _ColumnType("text", "TEXT")
    if dtype == pl.Binary:
        return _ColumnType("bytea", "BLOB")
    if dtype == pl.Date:
        return _ColumnType("date", "DATE")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return _ColumnType("timestamp without time zone", "TIMESTAMP")
        return _ColumnType("timestamp with time zone", "TIMESTAMPTZ")
    if dtype == pl.Time:
        return _ColumnType("time without time zone", "TIME")
    if isinstance(dtype, pl.Duration):
        return _ColumnType("interval", "INTERVAL")
    if dtype == pl.Null:
        return _ColumnType("text", "TEXT")
    raise UnsupportedTypeError(
        f"{MANAGER} cannot store column {column!r} of asset {asset}: polars dtype {dtype} has no "
        "SQL column type in its type map. Convert it first (nested values: e.g. "
        "pl.col(...).struct.json_encode() or cast to String), or store the frame with an IO "
        "manager that keeps Parquet (FilesystemIOManager, S3IOManager)."
    )


# ============================================================================================
# The IO manager
# ============================================================================================


class SQLIOManager(ConfigurableIOManager):
    """Stores polars DataFrames as tables of PostgreSQL or SQLite.

    Table: ``<schema>.<table>``; schema from asset metadata ``schema``, then this manager's
    ``schema``, then the asset key prefix, then ``public`` (PostgreSQL) / ``main`` (SQLite, which
    has no schemas: other schemas become a ``<schema>__`` table-name prefix). Partitioned assets
    need metadata ``partition_expr``; ``write_mode`` overwrite (default), append or upsert (with
    ``primary_key``); ``columns`` on inputs selects columns.
    """

    db_type: DbType = Field(
        default="postgresql", description="'postgresql' or 'sqlite' (db_name is then the file)."
    )
    host: str | None = Field(
        default=None,
        description="PostgreSQL host name or IP, or a Unix socket directory (a path starting "
        "with '/'); None uses libpq's default (PGHOST or the local socket).",
    )
    port: int = Field(default=5432, description="PostgreSQL port (also names the socket file).")
    db_name: str = Field(description="PostgreSQL database, or the SQLite database file path.")
    username: str | None = Field(default=None, description="PostgreSQL user.")
    password: str | None = Field(
        default=None,
        repr=False,
        description="PostgreSQL password; pass dagster.EnvVar(...). Never logged or reported.",
    )
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
    connect_timeout_seconds: int = Field(
        default=10, description="PostgreSQL connect timeout; SQLite busy timeout."
    )
    connect_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="PostgreSQL: attempts per read or write (first included) while the server "
        "is unreachable, restarting, or drops the connection before COMMIT; backoff 0.5 s "
        "doubling up to 5 s, then SQLConnectionError. Refusals such as a wrong password are "
        "not retried.",
    )

    _engine: Any = PrivateAttr(default=None)

    # ---------------------------------------------------------------- connections

    def _url(self) -> URL:
        from sqlalchemy import URL

        if self.db_type == "sqlite":
            return URL.create("sqlite", database=self.db_name)
        query: dict[str, str] = {}
        host = self.host
        if host and host.startswith("/"):
            # libpq reads a socket directory from the host parameter; SQLAlchemy URLs cannot
            # carry a path as host, so it travels as the query parameter psycopg understands.
            query["host"] = host
            host = None
        return URL.create(
            "postgresql+psycopg",
            username=self.username,
            password=self.password,
            host=host,
            port=self.port,
            database=self.db_name,
            query=query,
        )

    def masked_url(self) -> str:
        """The connection URL with the password replaced by ``***``, for messages and metadata."""
        return self._url().render_as_string(hide_password=True)

    def _get_engine(self) -> Engine:
        if self._engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            # NullPool: a connection per operation, closed afterwards, so nothing stays open in
            # `dagster dev` between runs and nothing is shared across forked step processes.
            if self.db_type == "sqlite":
                connect_args: dict[str, Any] = {
                    "timeout": self.connect_timeout_seconds,
                    # Transactions are begun explicitly (BEGIN IMMEDIATE for writes) so DDL is
                    # inside them too; the sqlite3 module's implicit transactions are off.
                    "isolation_level": None,
                }
            else:
                connect_args = {
                    "connect_timeout": self.connect_timeout_seconds,
                    "application_name": "dagster-sql-io-manager",
                    # Naive timestamps and partition bounds are UTC.
                    "options": "-c TimeZone=UTC",
                    # A server that vanishes without closing the socket (host down, network cut)
                    # is noticed in about a minute instead of hanging the step (TCP only).
                    "keepalives": 1,
                    "keepalives_idle": 30,
                    "keepalives_interval": 10,
                    "keepalives_count": 3,
                }
            self._engine = create_engine(self._url(), poolclass=NullPool, connect_args=connect_args)
        return self._engine

    def teardown_after_execution(self, context: Any) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _scrub(self, text: str) -> str:
        """``text`` with the password masked, for errors built from driver messages."""
        if self.password:
            text = text.replace(self.password, "***")
        return text

    def _run(self, work: Callable[[_Session], T], *, write: bool, log: Callable[[str], Any]) -> T:
        """``work`` in one transaction, again (bounded, with backoff) while the server is away.

        Retried: the server cannot be reached or restarts, or the connection drops before
        COMMIT (the server then rolls the transaction back, so nothing was written). Not
        retried: a connection lost during COMMIT (the outcome is unknown), and every other
        error. The last failure is a :class:`SQLConnectionError` naming the URL and the fix.
        """
        attempts = self.connect_attempts if self.db_type == "postgresql" else 1
        for attempt in range(1, attempts + 1):
            try:
                with self._transaction(write=write) as session:
                    return work(session)
            except _ServerUnavailable as error:
                if attempt == attempts:
                    raise SQLConnectionError(
                        self._unavailable_message(error, attempts, write=write)
                    ) from None
                wait = min(_RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1), _MAX_RETRY_BACKOFF_SECONDS)
                log(
                    f"{MANAGER}: {self.masked_url()} unavailable ({error.reason}); attempt "
                    f"{attempt + 1} of {attempts} in {wait:g} s"
                )
                time.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _unavailable_message(self, error: _ServerUnavailable, attempts: int, *, write: bool) -> str:
        what = "write" if write else "read"
        if error.phase == "connect":
            problem = f"cannot connect to {self.masked_url()}"
        else:
            problem = (
                f"lost the connection to {self.masked_url()} during the {what}; the server rolls "
                "the unfinished transaction back, so the stored data is unchanged"
            )
        return (
            f"{MANAGER} {problem} ({error.reason}), after {attempts} attempt(s). Is the server "
            "running and reachable (docker compose up -d postgres for the local one)? Check "
            "host, port, db_name, username and the password variable; re-execute the step once "
            "it is back, or raise connect_attempts / connect_timeout_seconds for a slow restart."
        )

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[_Session]:
        """One transaction on a fresh connection: committed on success, rolled back on error.

        Raises :class:`_ServerUnavailable` when the server cannot be reached or drops the
        connection before COMMIT (retryable, see :meth:`_run`).
        """
        from sqlalchemy.exc import DBAPIError

        if self.db_type == "sqlite" and write:
            Path(self.db_name).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = self._get_engine().connect()
        except DBAPIError as error:
            reason = self._scrub(str(error.orig)).strip()
            if self.db_type == "postgresql" and _server_unavailable(error.orig):
                raise _ServerUnavailable(reason, phase="connect") from None
            # `from None`: the chained driver error is not scrubbed, so it is not attached.
            raise SQLConnectionError(
                f"{MANAGER} cannot connect to {self.masked_url()}: {reason}. Check host, port, "
                "db_name, username and the password variable, and that the server is running."
            ) from None
        try:
            driver = connection.connection.driver_connection
            if self.db_type == "sqlite":
                # IMMEDIATE takes the write lock up front: two writers wait for each other
                # (busy timeout) instead of deadlocking on a lock upgrade.
                driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            session = _Session(self.db_type, driver)
            committing = False
            try:
                yield session
                committing = True
                driver.commit()
            except BaseException as error:
                # A lost connection cannot roll back (the server already did): keep the
                # original error rather than the rollback's.
                with suppress(Exception):
                    driver.rollback()
                if self.db_type == "postgresql" and _connection_lost(driver, error):
                    reason = self._scrub(str(error)).strip()
                    if committing:
                        raise SQLConnectionError(
                            f"{MANAGER} lost the connection to {self.masked_url()} while "
                            f"committing ({reason}): the write may or may not be stored. "
                            "Re-execute the step once the server is back (an overwrite of "
                            "the same partition gives the same result)."
                        ) from None
                    raise _ServerUnavailable(reason, phase="transaction") from None
                raise
        finally:
            connection.close()

    def _backend(self) -> _Backend:
        return _SQLiteBackend(self.db_name) if self.db_type == "sqlite" else _PostgresBackend()

    # ---------------------------------------------------------------- output

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        asset = asset_label(context)
        ensure_supported(obj, context=context, manager=MANAGER, supported=("frame",), fix=_DICT_FIX)
        frame: pl.DataFrame = obj
        meta = storage_metadata(context)
        backend = self._backend()
        table = resolve_table(
            context, config_schema=self.schema_, default_schema=backend.default_schema, meta=meta
        )
        selection = partition_selection(context)
        filters = table_filters(selection, meta, asset=asset) if selection is not None else ()
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
        types = {
            name: column_type(dtype, column=name, asset=asset)
            for name, dtype in frame.schema.items()
        }
        backend.check_values(frame, asset)

        def store(session: _Session) -> int:
            return self._write(session, backend, table, frame, types, meta, filters, asset)

        row_count = self._run(store, write=True, log=context.log.warning)

        metadata = build_output_metadata(
            frame,
            partitioned=selection is not None,
            table_name=backend.display_name(table, self.db_name),
            row_count=row_count,
            write_mode=meta.write_mode,
        )
        metadata["database"] = MetadataValue.text(self.masked_url())
        context.add_output_metadata(metadata)

    def _write(
        self,
        session: _Session,
        backend: _Backend,
        table: TableName,
        frame: pl.DataFrame,
        types: Mapping[str, _ColumnType],
        meta: StorageMetadata,
        filters: Sequence[ColumnFilter],
        asset: str,
    ) -> int:
        """Write inside the caller's transaction; return the rows of the slice (or table) after."""
        target = backend.quoted(table)
        info = backend.table_info(session, table)
        if info is None:
            # Parallel first writes (a backfill) would race to create the table: the first
            # creates it, the others wait, then find it.
            backend.lock_schema_for_create(session, table)
            info = backend.table_info(session, table)
        sql_types = {name: backend.sql_type(t) for name, t in types.items()}

        if info is not None and meta.write_mode == "overwrite" and not filters:
            # An unpartitioned overwrite replaces the table. Same columns and key: empty it and
            # keep grants, views and indexes; otherwise drop it so the frame defines it anew.
            if info.same_layout(frame.schema, sql_types, meta.primary_key):
                session.execute(backend.empty_table_statement(target))
            else:
                session.execute(f"DROP TABLE {target}")
                info = None

        if info is None:
            backend.create_table(session, table, sql_types, meta.primary_key, asset)
            if filters:
                # Each partition write deletes its slice: an index on the partition columns
                # keeps that cost flat as partitions accumulate (no full scan per write).
                session.execute(_partition_index_statement(target, filters))
            backend.store_schema(session, table, frame.schema)
            backend.insert(session, target, frame)
        else:
            self._check_drift(session, backend, table, info, frame, sql_types, asset)
            if meta.write_mode == "overwrite":
                where, params = backend.where(filters, info, asset)
                # S608: identifiers validated and quoted; window bounds are bound parameters.
                session.execute(f"DELETE FROM {target} WHERE {where}", params)  # noqa: S608
                backend.insert(session, target, frame)
            elif meta.write_mode == "append":
                backend.insert(session, target, frame)
            else:
                backend.upsert(session, table, frame, sql_types, meta.primary_key, info)

        if meta.write_mode == "overwrite":
            return frame.height  # the slice (or table) holds exactly the frame now
        info = backend.table_info(session, table)
        assert info is not None  # written above, in this transaction
        where, params = backend.where(filters, info, asset)
        count = f"SELECT count(*) FROM {target} WHERE {where}"  # noqa: S608 - quoted, bound
        return int(session.execute(count, params)[0][0])

    def _check_drift(
        self,
        session: _Session,
        backend: _Backend,
        table: TableName,
        info: _TableInfo,
        frame: pl.DataFrame,
        sql_types: Mapping[str, str],
        asset: str,
    ) -> None:
        """Refuse a frame that does not match the table, or add its new columns when allowed."""
        where = f"table {table.display()}"
        stored = info.polars_schema()
        incoming: Mapping[str, Any]
        if stored is not None:
            compatible: Callable[[Any, Any], bool] | None = None
            existing: Mapping[str, Any] = stored
            incoming = frame.schema
        else:
            # A table made outside this manager (or altered since): compare SQL types.
            compatible = operator.eq
            existing = info.column_types
            incoming = sql_types
        new_columns = [c for c in incoming if c not in existing]
        if self.schema_evolution == "add_columns" and new_columns:
            known = {c: t for c, t in incoming.items() if c in existing}
            check_no_drift(existing, known, asset=asset, where=where, compatible=compatible)
            target = backend.quoted(table)
            for name in new_columns:
                # New columns are nullable: the rows already stored have no value for them.
                session.execute(backend.add_column_statement(target, name, sql_types[name]))
            if stored is not None:
                backend.store_schema(
                    session, table, {**stored, **{c: frame.schema[c] for c in new_columns}}
                )
            return
        try:
            check_no_drift(existing, incoming, asset=asset, where=where, compatible=compatible)
        except SchemaDriftError as error:
            if not new_columns:
                raise
            raise SchemaDriftError(
                f"{error} To add new columns automatically, configure "
                f'{MANAGER}(..., schema_evolution="add_columns").'
            ) from None

    # ---------------------------------------------------------------- input

    def load_input(self, context: InputContext) -> pl.DataFrame:
        asset = asset_label(context)
        ensure_loadable(context, manager=MANAGER, supported=("frame",), fix=_DICT_FIX)
        meta = storage_metadata(context)
        backend = self._backend()
        table = resolve_table(
            context, config_schema=self.schema_, default_schema=backend.default_schema, meta=meta
        )
        selection = partition_selection(context)
        filters = table_filters(selection, meta, asset=asset) if selection is not None else ()
        first_key = selection.keys[0] if selection is not None and selection.keys else None
        hint = materialize_hint(asset, first_key)
        if self.db_type == "sqlite" and not Path(self.db_name).exists():
            raise MissingDataError(
                f"Cannot load asset {asset}: the SQLite file {self.db_name} does not exist. "
                f"{hint} Or check db_name ({self.db_name!r})."
            )

        def load(session: _Session) -> tuple[pl.DataFrame, _TableInfo]:
            info = backend.table_info(session, table)
            if info is None:
                raise MissingDataError(
                    f"Cannot load asset {asset}: table {table.display()} does not exist in "
                    f"{self.masked_url()}. {hint}"
                )
            columns = select_columns(
                list(info.column_types),
                meta.columns,
                asset=asset,
                where=f"table {table.display()}",
            )
            where, params = backend.where(filters, info, asset)
            context.log.debug(f"Loading {asset} from {table.display()} where {where} {params}")
            frame = backend.read(
                session, table, columns or list(info.column_types), where, params, info
            )
            return frame, info

        frame, info = self._run(load, write=False, log=context.log.warning)
        return restore_dtypes(frame, info.polars_schema())


def _server_unavailable(error: BaseException | None) -> bool:
    """A connect failure of a server that is down, unreachable or restarting (retryable)."""
    import psycopg

    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    # No SQLSTATE: the failure happened before the server answered (refused, timeout, DNS).
    return state is None or state.startswith("08") or state in _UNAVAILABLE_STATES


def _connection_lost(driver: Any, error: BaseException) -> bool:
    """Whether ``error`` means the PostgreSQL connection is gone (server stopped or cut off)."""
    import psycopg

    if not isinstance(error, psycopg.OperationalError):
        return False
    return bool(getattr(driver, "broken", False)) or _server_unavailable(error)


# ============================================================================================
# Sessions and table information
# ============================================================================================


class _Session:
    """Statements on the driver connection of one transaction (psycopg or sqlite3)."""

    def __init__(self, db_type: DbType, driver: Any) -> None:
        self.db_type = db_type
        self.driver = driver

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.driver.cursor()
        try:
            if self.db_type == "sqlite":
                cursor.execute(statement, tuple(params))
            else:
                # psycopg parses %-placeholders only when parameters are given.
                cursor.execute(statement, tuple(params) if params else None)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()


@dataclass
class _TableInfo:
    """What a write or read needs to know about an existing table."""

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

    def same_layout(
        self,
        schema: Mapping[str, pl.DataType],
        sql_types: Mapping[str, str],
        primary_key: Sequence[str],
    ) -> bool:
        stored = self.polars_schema()
        same_columns = (
            dict(stored) == dict(schema) if stored is not None else self.column_types == sql_types
        )
        return same_columns and (not primary_key or self.has_unique_key(primary_key))


def _kind_error(asset: str, column: str, data_type: str) -> MetadataError:
    return MetadataError(
        f"Asset {asset}: partition_expr column {column!r} has type {data_type}; a time "
        "partition needs a DATE or TIMESTAMP column."
    )


def _missing_column_error(asset: str, column: str, columns: Sequence[str]) -> MetadataError:
    return MetadataError(
        f"Asset {asset}: partition_expr column {column!r} is not in the table "
        f"(columns: {', '.join(columns)})."
    )


class _Backend:
    """What differs between PostgreSQL and SQLite; the manager holds everything else."""

    default_schema: str

    def quoted(self, table: TableName) -> str:
        raise NotImplementedError

    def display_name(self, table: TableName, db_name: str) -> str:
        raise NotImplementedError

    def sql_type(self, column: _ColumnType) -> str:
        raise NotImplementedError

    def check_values(self, frame: pl.DataFrame, asset: str) -> None:
        """Refuse values the backend would store differently from how they were written."""

    def table_info(self, session: _Session, table: TableName) -> _TableInfo | None:
        raise NotImplementedError

    def create_table(
        self,
        session: _Session,
        table: TableName,
        sql_types: Mapping[str, str],
        primary_key: Sequence[str],
        asset: str,
    ) -> None:
        raise NotImplementedError

    def store_schema(
        self, session: _Session, table: TableName, schema: Mapping[str, pl.DataType]
    ) -> None:
        raise NotImplementedError

    def lock_schema_for_create(self, session: _Session, table: TableName) -> None:
        """Serialize table creation in the schema until the transaction ends (if needed)."""

    def empty_table_statement(self, target: str) -> str:
        return f"DELETE FROM {target}"  # noqa: S608 - validated, quoted identifier

    def add_column_statement(self, target: str, column: str, sql_type: str) -> str:
        return f"ALTER TABLE {target} ADD COLUMN {quote_identifier(column)} {sql_type}"

    def insert(self, session: _Session, target: str, frame: pl.DataFrame) -> None:
        raise NotImplementedError

    def upsert(
        self,
        session: _Session,
        table: TableName,
        frame: pl.DataFrame,
        sql_types: Mapping[str, str],
        primary_key: Sequence[str],
        info: _TableInfo,
    ) -> None:
        raise NotImplementedError

    def temporal_kind(self, info: _TableInfo, column: str, asset: str) -> TemporalKind:
        raise NotImplementedError

    def where(
        self, filters: Sequence[ColumnFilter], info: _TableInfo, asset: str
    ) -> tuple[str, list[Any]]:
        for column_filter in filters:
            if column_filter.column not in info.column_types:
                raise _missing_column_error(asset, column_filter.column, list(info.column_types))
        return build_where_clause(
            filters,
            temporal_kind=lambda column: self.temporal_kind(info, column, asset),
            placeholder=lambda _index: "%s",
        )

    def read(
        self,
        session: _Session,
        table: TableName,
        columns: Sequence[str],
        where: str,
        params: Sequence[Any],
        info: _TableInfo,
    ) -> pl.DataFrame:
        raise NotImplementedError

    def _merge_statements(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        primary_key: Sequence[str],
        info: _TableInfo,
        *,
        source_filter: str = "",
    ) -> list[str]:
        """Statements moving the staged rows into the table, replacing rows with the same key."""
        names = ", ".join(quote_identifier(c) for c in columns)
        if info.has_unique_key(primary_key):
            keys = ", ".join(quote_identifier(c) for c in primary_key)
            updates = ", ".join(
                f"{quote_identifier(c)} = excluded.{quote_identifier(c)}"
                for c in columns
                if c not in primary_key
            )
            action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
            # S608: validated, quoted identifiers only.
            return [
                f"INSERT INTO {target} ({names}) SELECT {names} FROM {source}{source_filter} "  # noqa: S608
                f"ON CONFLICT ({keys}) {action}"
            ]
        # No unique constraint on the key (a table made elsewhere): same effect in two steps.
        matches = " AND ".join(
            f"{source}.{quote_identifier(c)} = {target}.{quote_identifier(c)}" for c in primary_key
        )
        return [
            f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {source} WHERE {matches})",  # noqa: S608
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {source}",  # noqa: S608
        ]


# ============================================================================================
# PostgreSQL
# ============================================================================================

# PostgreSQL's binary timestamps and dates count from 2000-01-01.
_PG_EPOCH_MICROSECONDS = 946_684_800_000_000
_PG_EPOCH_DAYS = 10_957
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_NULL_FIELD = struct.pack(">i", -1)
_NUMERIC_NEGATIVE = 0x4000


class _PostgresBackend(_Backend):
    default_schema = "public"

    def quoted(self, table: TableName) -> str:
        return table.quoted

    def display_name(self, table: TableName, db_name: str) -> str:
        return table.display(db_name)

    def sql_type(self, column: _ColumnType) -> str:
        return column.postgres

    def check_values(self, frame: pl.DataFrame, asset: str) -> None:
        _check_microseconds(frame, asset)

    def table_info(self, session: _Session, table: TableName) -> _TableInfo | None:
        found = session.execute(
            "SELECT c.oid, obj_description(c.oid, 'pg_class') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            [table.schema, table.table],
        )
        if not found:
            return None
        oid, comment = found[0]
        columns = session.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [oid],
        )
        keys = session.execute(
            "SELECT array_agg(a.attname::text) FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s AND i.indisunique AND i.indpred IS NULL "
            "GROUP BY i.indexrelid",
            [oid],
        )
        return _TableInfo(
            column_types={name: data_type for name, data_type in columns},
            stored_schema_text=comment,
            unique_keys=[frozenset(names) for (names,) in keys],
        )

    def create_table(
        self,
        session: _Session,
        table: TableName,
        sql_types: Mapping[str, str],
        primary_key: Sequence[str],
        asset: str,
    ) -> None:
        exists = session.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [table.schema])
        if not exists:
            session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(table.schema)}")
        session.execute(_create_table_statement(table.quoted, sql_types, primary_key))

    def store_schema(
        self, session: _Session, table: TableName, schema: Mapping[str, pl.DataType]
    ) -> None:
        # The comment keeps the polars dtypes SQL types do not carry (Int8 vs Int16, UInt32,
        # ms vs us, categoricals). COMMENT takes no bound parameters; the text is base64, and
        # checked to be, so it cannot leave its quotes.
        text = encode_frame_schema(schema)
        if not _SCHEMA_TEXT.fullmatch(text):
            raise ValueError("encoded frame schema has unexpected characters")
        session.execute(f"COMMENT ON TABLE {table.quoted} IS '{text}'")

    def lock_schema_for_create(self, session: _Session, table: TableName) -> None:
        # A transaction-scoped advisory lock, keyed on the schema (which may be new too).
        digest = hashlib.blake2b(f"dagster-sql-io-manager:{table.schema}".encode(), digest_size=8)
        key = int.from_bytes(digest.digest(), "big", signed=True)
        session.execute("SELECT pg_advisory_xact_lock(%s)", [key])

    def empty_table_statement(self, target: str) -> str:
        # TRUNCATE is transactional in PostgreSQL and much faster than DELETE on large tables.
        return f"TRUNCATE {target}"

    def add_column_statement(self, target: str, column: str, sql_type: str) -> str:
        # IF NOT EXISTS: a concurrent write of another partition may have added it meanwhile.
        return (
            f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {quote_identifier(column)} {sql_type}"
        )

    def insert(self, session: _Session, target: str, frame: pl.DataFrame) -> None:
        names = ", ".join(quote_identifier(c) for c in frame.columns)
        # Validated, quoted identifiers only; the data goes in the COPY stream.
        statement = f"COPY {target} ({names}) FROM STDIN (FORMAT binary)"
        with session.driver.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in encode_copy_binary(frame):
                copy.write(chunk)

    def upsert(
        self,
        session: _Session,
        table: TableName,
        frame: pl.DataFrame,
        sql_types: Mapping[str, str],
        primary_key: Sequence[str],
        info: _TableInfo,
    ) -> None:
        stage = quote_identifier(STAGE_TABLE)
        session.execute(f"DROP TABLE IF EXISTS {stage}")
        columns = ", ".join(f"{quote_identifier(name)} {sql_types[name]}" for name in frame.columns)
        session.execute(f"CREATE TEMPORARY TABLE {stage} ({columns}) ON COMMIT DROP")
        self.insert(session, stage, frame)
        for statement in self._merge_statements(
            table.quoted, stage, frame.columns, primary_key, info
        ):
            session.execute(statement)

    def temporal_kind(self, info: _TableInfo, column: str, asset: str) -> TemporalKind:
        data_type = info.column_types[column]
        if data_type == "date":
            return "date"
        if data_type == "timestamp with time zone":
            return "timestamptz"
        if data_type == "timestamp without time zone":
            return "timestamp"
        raise _kind_error(asset, column, data_type)

    def read(
        self,
        session: _Session,
        table: TableName,
        columns: Sequence[str],
        where: str,
        params: Sequence[Any],
        info: _TableInfo,
    ) -> pl.DataFrame:
        plan = [_pg_read_column(name, info.column_types[name]) for name in columns]
        select = ", ".join(column.select for column in plan)
        quoted = [quote_identifier(column.name) for column in plan if column.force_quote]
        # FORCE_QUOTE tells an empty string ("") from NULL (an empty field) in the CSV.
        force_quote = f", FORCE_QUOTE ({', '.join(quoted)})" if quoted else ""
        query = f"SELECT {select} FROM {table.quoted} WHERE {where}"  # noqa: S608 - quoted
        # COPY takes no bound parameters, so the bounds are bound client-side by psycopg.
        from psycopg import ClientCursor

        with ClientCursor(session.driver) as cursor:
            bound = cursor.mogrify(query, tuple(params) if params else None)
        data = bytearray()
        with session.driver.cursor() as cursor:
            copy_sql = f"COPY ({bound}) TO STDOUT (FORMAT csv{force_quote})"
            with cursor.copy(copy_sql) as copy:
                for chunk in copy:
                    data += chunk
        wire_schema = {column.name: column.wire_dtype for column in plan}
        if data:
            frame = pl.read_csv(
                bytes(data),
                has_header=False,
                schema=wire_schema,
                infer_schema=False,
            )
        else:
            frame = pl.DataFrame(schema=wire_schema)
        return frame.select(column.decode for column in plan)


@dataclass(frozen=True)
class _ReadColumn:
    """How a column leaves PostgreSQL (``select``), travels (``wire_dtype``) and is decoded."""

    name: str
    select: str
    wire_dtype: pl.DataType
    decode: pl.Expr
    force_quote: bool = False


_NUMERIC_TYPE = re.compile(r"numeric\((\d+),(\d+)\)")
_PG_SIMPLE_TYPES: dict[str, pl.DataType] = {
    "smallint": pl.Int16(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "real": pl.Float32(),
    "double precision": pl.Float64(),
}


def _pg_read_column(name: str, data_type: str) -> _ReadColumn:
    """The read plan of one column: values leave PostgreSQL as CSV that polars parses fast."""
    column = quote_identifier(name)
    col = pl.col(name)
    # Microseconds since the Unix epoch: exact, and independent of DateStyle/TimeZone settings.
    epoch_us = f"(extract(epoch FROM {column}) * 1000000)::int8 AS {column}"
    if data_type in _PG_SIMPLE_TYPES:
        return _ReadColumn(name, column, _PG_SIMPLE_TYPES[data_type], col)
    if data_type == "boolean":
        return _ReadColumn(name, f"{column}::int4 AS {column}", pl.Int32(), col.cast(pl.Boolean))
    if match := _NUMERIC_TYPE.fullmatch(data_type):
        precision, scale = int(match[1]), int(match[2])
        return _ReadColumn(name, column, pl.String(), col.cast(pl.Decimal(precision, scale)))
    if data_type == "numeric":
        return _ReadColumn(name, column, pl.String(), col.cast(pl.Float64))
    if data_type == "bytea":
        select = f"encode({column}, 'hex') AS {column}"
        return _ReadColumn(name, select, pl.String(), col.str.decode("hex"), force_quote=True)
    if data_type == "date":
        select = f"({column} - DATE '1970-01-01') AS {column}"
        return _ReadColumn(name, select, pl.Int32(), col.cast(pl.Date))
    if data_type == "timestamp with time zone":
        return _ReadColumn(name, epoch_us, pl.Int64(), col.cast(pl.Datetime("us", "UTC")))
    if data_type == "timestamp without time zone":
        return _ReadColumn(name, epoch_us, pl.Int64(), col.cast(pl.Datetime("us")))
    if data_type == "time without time zone":
        return _ReadColumn(name, epoch_us, pl.Int64(), (col * 1000).cast(pl.Time))
    if data_type == "interval":
        return _ReadColumn(name, epoch_us, pl.Int64(), col.cast(pl.Duration("us")))
    # text, varchar, and anything else (json, uuid, arrays ...) as its text form.
    return _ReadColumn(name, f"{column}::text AS {column}", pl.String(), col, force_quote=True)


def _create_table_statement(
    target: str, sql_types: Mapping[str, str], primary_key: Sequence[str]
) -> str:
    definitions = [
        f"{quote_identifier(name)} {data_type}{' NOT NULL' if name in primary_key else ''}"
        for name, data_type in sql_types.items()
    ]
    if primary_key:
        # The key of upserts (INSERT ... ON CONFLICT needs a unique constraint on it).
        definitions.append(f"PRIMARY KEY ({', '.join(quote_identifier(c) for c in primary_key)})")
    return f"CREATE TABLE {target} ({', '.join(definitions)})"


def _partition_index_statement(target: str, filters: Sequence[ColumnFilter]) -> str:
    # Named after the table so that it is unique in the schema (PostgreSQL) or file (SQLite).
    name = "partition_idx_" + hashlib.sha256(target.encode()).hexdigest()[:16]
    columns = ", ".join(quote_identifier(f.column) for f in filters)
    return f"CREATE INDEX {quote_identifier(name)} ON {target} ({columns})"


def _check_microseconds(frame: pl.DataFrame, asset: str) -> None:
    """PostgreSQL keeps microseconds: refuse nanosecond values it would silently round."""
    for name, dtype in frame.schema.items():
        nanoseconds = dtype == pl.Time or (
            isinstance(dtype, pl.Datetime | pl.Duration) and dtype.time_unit == "ns"
        )
        if not nanoseconds:
            continue
        lossy = frame.select((pl.col(name).to_physical() % 1000 != 0).any()).item()
        if lossy:
            raise UnsupportedTypeError(
                f"{MANAGER} cannot store column {name!r} of asset {asset} in PostgreSQL without "
                "losing data: it holds sub-microsecond values and PostgreSQL keeps microseconds. "
                f'Truncate them first, e.g. pl.col("{name}").dt.truncate("1us") or '
                "cast to a microsecond time unit."
            )


# ---------------------------------------------------------------- binary COPY encoder


def encode_copy_binary(frame: pl.DataFrame, chunk_rows: int = COPY_CHUNK_ROWS) -> Iterator[bytes]:
    """The frame in PostgreSQL's binary COPY format, in chunks of ``chunk_rows`` rows.

    Each column becomes its wire form with polars expressions (big-endian fixed-width values,
    length-prefixed bytes). Adjacent fixed-width columns without nulls are laid out together by
    strided byte copies; Arrow's element-wise binary join then glues the fields of each row. No
    Python loop runs over rows or values. Types follow :func:`column_type`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    empty = pa.scalar(b"", pa.large_binary())
    null_field = pa.scalar(_NULL_FIELD, pa.large_binary())
    row_header = pa.scalar(struct.pack(">h", frame.width), pa.large_binary())
    plans = [_field_plan(name, dtype) for name, dtype in frame.schema.items()]
    prepared = frame.select(expr for plan in plans for expr in plan.exprs)

    yield _COPY_HEADER
    for chunk in prepared.iter_slices(chunk_rows):
        table = chunk.to_arrow()
        fields = []
        block: list[tuple[_FixedLayout, pa.Array]] = []
        for plan in plans:
            arrays = [table.column(name).combine_chunks() for name in plan.columns]
            if plan.fixed is not None and not arrays[0].null_count:
                block.append((plan.fixed, arrays[0]))
                continue
            if block:
                fields.append(_fixed_block(block))
                block = []
            encoded = plan.encode(arrays)
            # A row field is NULL when its first source column is null.
            if arrays[0].null_count:
                encoded = pc.if_else(arrays[0].is_valid(), encoded, null_field)
            fields.append(encoded)
        if block:
            fields.append(_fixed_block(block))
        rows = pc.binary_join_element_wise(row_header, *fields, empty)
        yield _large_binary_data(rows)
    yield _COPY_TRAILER


@dataclass(frozen=True)
class _FieldPlan:
    """Wire columns of one frame column (``exprs``) and how to turn them into COPY fields."""

    columns: tuple[str, ...]
    exprs: tuple[pl.Expr, ...]
    encode: Callable[[list[pa.Array]], pa.Array]
    fixed: _FixedLayout | None = None  # set for fixed-width fields


@dataclass(frozen=True)
class _FixedLayout:
    """A fixed-width field: big-endian value of ``width`` bytes (array ``typecode``) + suffix."""

    typecode: str
    width: int
    suffix: bytes = b""

    @property
    def template(self) -> bytes:
        """The field with a zero value: length prefix, value bytes, suffix."""
        return struct.pack(">i", self.width + len(self.suffix)) + bytes(self.width) + self.suffix


# Big-endian fixed-width encodings: array typecode and byte width.
_FIXED = {
    pl.Int16: ("h", 2),
    pl.Int32: ("i", 4),
    pl.Int64: ("q", 8),
    pl.Float32: ("f", 4),
    pl.Float64: ("d", 8),
    pl.UInt8: ("B", 1),
}


def _field_plan(name: str, dtype: pl.DataType) -> _FieldPlan:
    col = pl.col(name)
    if dtype == pl.Boolean:
        return _fixed_plan(name, col.cast(pl.UInt8), pl.UInt8)
    if dtype in (pl.Int8, pl.Int16, pl.UInt8):
        return _fixed_plan(name, col.cast(pl.Int16), pl.Int16)
    if dtype in (pl.Int32, pl.UInt16):
        return _fixed_plan(name, col.cast(pl.Int32), pl.Int32)
    if dtype in (pl.Int64, pl.UInt32):
        return _fixed_plan(name, col.cast(pl.Int64), pl.Int64)
    if dtype in (pl.Float32, pl.Float64):
        return _fixed_plan(name, col, dtype)
    if dtype == pl.UInt64:
        return _numeric_plan(name, col.cast(pl.Decimal(20, 0)), 20, 0)
    if isinstance(dtype, pl.Decimal):
        return _numeric_plan(name, col, dtype.precision, dtype.scale)
    if dtype == pl.Date:
        return _fixed_plan(name, col.cast(pl.Int32) - _PG_EPOCH_DAYS, pl.Int32)
    if isinstance(dtype, pl.Datetime):
        return _fixed_plan(name, col.dt.epoch("us") - _PG_EPOCH_MICROSECONDS, pl.Int64)
    if dtype == pl.Time:
        return _fixed_plan(name, col.to_physical() // 1000, pl.Int64)
    if isinstance(dtype, pl.Duration):
        # interval: microseconds, then days and months (zero).
        return _fixed_plan(name, col.dt.total_microseconds(), pl.Int64, suffix=bytes(8))
    if dtype == pl.Binary:
        return _variable_plan(name, col)
    # String, Categorical, Enum, Null: text.
    return _variable_plan(name, col.cast(pl.String).cast(pl.Binary))


def _fixed_plan(
    name: str, expr: pl.Expr, wire: type[pl.DataType] | pl.DataType, suffix: bytes = b""
) -> _FieldPlan:
    import pyarrow as pa
    import pyarrow.compute as pc

    typecode, width = _FIXED[wire if isinstance(wire, type) else type(wire)]
    prefix = pa.scalar(struct.pack(">i", width + len(suffix)), pa.large_binary())
    tail = pa.scalar(suffix, pa.large_binary())

    def encode(arrays: list[pa.Array]) -> pa.Array:
        values = _big_endian(arrays[0], typecode, width)
        return pc.binary_join_element_wise(prefix, values, tail, pa.scalar(b"", pa.large_binary()))

    layout = _FixedLayout(typecode, width, suffix)
    return _FieldPlan((name,), (expr.alias(name),), encode, fixed=layout)


def _fixed_block(columns: list[tuple[_FixedLayout, pa.Array]]) -> pa.Array:
    """Adjacent null-free fixed-width fields as one fixed-size element per row.

    The row template is repeated, then each value byte lands by one strided copy: cheaper than an
    element-wise binary join per column.
    """
    import pyarrow as pa

    rows = len(columns[0][1])
    template = b"".join(layout.template for layout, _ in columns)
    size = len(template)
    block = bytearray(template) * rows
    offset = 0
    for layout, values in columns:
        data = _big_endian_bytes(values, layout.typecode, layout.width)
        start = offset + 4  # after the length prefix
        for k in range(layout.width):
            block[start + k :: size] = data[k :: layout.width]
        offset += len(layout.template)
    fixed = pa.Array.from_buffers(pa.binary(size), rows, [None, pa.py_buffer(block)])
    return fixed.cast(pa.large_binary())


def _variable_plan(name: str, expr: pl.Expr) -> _FieldPlan:
    import pyarrow as pa
    import pyarrow.compute as pc

    empty = pa.scalar(b"", pa.large_binary())

    def encode(arrays: list[pa.Array]) -> pa.Array:
        values = arrays[0].cast(pa.large_binary())
        lengths = pc.binary_length(values).cast(pa.int32()).fill_null(0)
        return pc.binary_join_element_wise(_big_endian(lengths, "i", 4), values, empty)

    return _FieldPlan((name,), (expr.alias(name),), encode)


def _numeric_plan(name: str, expr: pl.Expr, precision: int, scale: int) -> _FieldPlan:
    """NUMERIC in binary: digit count, weight, sign, scale, then base-10000 digits.

    Every value gets the same digit layout (the groups of a NUMERIC(precision, scale)), built with
    string operations on the exact decimal text; PostgreSQL strips the zero groups on receipt.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    integer_groups = -(-(precision - scale) // 4)
    fraction_groups = -(-scale // 4)
    groups = integer_groups + fraction_groups
    text = expr.cast(pl.String)
    unsigned = text.str.strip_prefix("-")
    parts = unsigned.str.split_exact(".", 1)
    pieces = []
    if integer_groups:
        pieces.append(parts.struct.field("field_0").str.pad_start(4 * integer_groups, "0"))
    if fraction_groups:
        fraction = parts.struct.field("field_1").fill_null("")
        pieces.append(fraction.str.pad_end(4 * fraction_groups, "0"))
    digits = pl.concat_str(pieces)
    # Helper column names contain "#", which validated column names cannot, so never collide.
    sign_column = f"{name}#sign"
    digit_columns = [f"{name}#{k}" for k in range(groups)]
    exprs = (
        text.alias(name),
        pl.when(text.str.starts_with("-"))
        .then(_NUMERIC_NEGATIVE)
        .otherwise(0)
        .cast(pl.Int16)
        .alias(sign_column),
        *(digits.str.slice(4 * k, 4).cast(pl.Int16).alias(c) for k, c in enumerate(digit_columns)),
    )
    head = pa.scalar(
        struct.pack(">ihh", 8 + 2 * groups, groups, integer_groups - 1), pa.large_binary()
    )
    dscale = pa.scalar(struct.pack(">h", scale), pa.large_binary())
    empty = pa.scalar(b"", pa.large_binary())

    def encode(arrays: list[pa.Array]) -> pa.Array:
        sign = _big_endian(arrays[1].fill_null(0), "h", 2)
        digit_arrays = [_big_endian(a.fill_null(0), "h", 2) for a in arrays[2:]]
        return pc.binary_join_element_wise(head, sign, dscale, *digit_arrays, empty)

    return _FieldPlan((name, sign_column, *digit_columns), exprs, encode)


def _big_endian_bytes(values: pa.Array, typecode: str, width: int) -> bytes:
    """The values of a fixed-width array, big-endian, back to back (null slots hold garbage)."""
    data = values.buffers()[1]
    assert data is not None
    raw = memoryview(data)[values.offset * width : (values.offset + len(values)) * width]
    if width == 1 or sys.byteorder == "big":
        return raw.tobytes()
    swapped = array.array(typecode)
    swapped.frombytes(raw)
    swapped.byteswap()
    return swapped.tobytes()


def _big_endian(values: pa.Array, typecode: str, width: int) -> pa.Array:
    """Fixed-width values as big-endian ``large_binary`` elements (null slots hold garbage)."""
    import pyarrow as pa

    raw = pa.py_buffer(_big_endian_bytes(values, typecode, width))
    fixed = pa.Array.from_buffers(pa.binary(width), len(values), [None, raw])
    return fixed.cast(pa.large_binary())


def _large_binary_data(rows: pa.Array) -> bytes:
    """The concatenated bytes of a ``large_binary`` array without nulls."""
    offsets = memoryview(rows.buffers()[1]).cast("q")
    start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
    return memoryview(rows.buffers()[2])[start:end].tobytes()


# ============================================================================================
# SQLite
# ============================================================================================

_TIME_UNIT_DIGITS = {"ms": 3, "us": 6, "ns": 9}


class _SQLiteBackend(_Backend):
    default_schema = "main"

    def __init__(self, db_name: str) -> None:
        self.db_name = db_name

    def physical_name(self, table: TableName) -> str:
        """SQLite has no schemas: a schema other than ``main`` prefixes the table name."""
        if table.schema == self.default_schema:
            return table.table
        return validate_identifier(
            f"{table.schema}__{table.table}", f"SQLite table name of {table.display()}"
        )

    def quoted(self, table: TableName) -> str:
        return quote_identifier(self.physical_name(table))

    def display_name(self, table: TableName, db_name: str) -> str:
        return f"{Path(db_name).stem}.main.{self.physical_name(table)}"

    def sql_type(self, column: _ColumnType) -> str:
        return column.sqlite

    def check_values(self, frame: pl.DataFrame, asset: str) -> None:
        floats = [name for name, dtype in frame.schema.items() if dtype in (pl.Float32, pl.Float64)]
        if not floats:
            return
        counts = frame.select(pl.col(floats).is_nan().sum()).row(0)
        with_nan = [name for name, count in zip(floats, counts, strict=True) if count]
        if with_nan:
            raise UnsupportedTypeError(
                f"{MANAGER} cannot store NaN in SQLite for asset {asset} (column(s) "
                f"{', '.join(with_nan)}): SQLite turns NaN into NULL. Replace NaN first, e.g. "
                "pl.col(...).fill_nan(None), or use PostgreSQL."
            )

    def table_info(self, session: _Session, table: TableName) -> _TableInfo | None:
        name = self.physical_name(table)
        columns = session.execute("SELECT name, type FROM pragma_table_info(?)", [name])
        if not columns:
            return None
        stored = session.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [SQLITE_SCHEMA_TABLE]
        )
        schema_text = None
        if stored:
            rows = session.execute(
                f"SELECT polars_schema FROM {quote_identifier(SQLITE_SCHEMA_TABLE)} "  # noqa: S608
                "WHERE table_name = ?",
                [name],
            )
            schema_text = rows[0][0] if rows else None
        unique_keys = []
        for (index,) in session.execute(
            'SELECT name FROM pragma_index_list(?) WHERE "unique"', [name]
        ):
            key = session.execute("SELECT name FROM pragma_index_info(?)", [index])
            unique_keys.append(frozenset(c for (c,) in key))
        return _TableInfo(
            column_types={column: data_type for column, data_type in columns},
            stored_schema_text=schema_text,
            unique_keys=unique_keys,
        )

    def create_table(
        self,
        session: _Session,
        table: TableName,
        sql_types: Mapping[str, str],
        primary_key: Sequence[str],
        asset: str,
    ) -> None:
        session.execute(_create_table_statement(self.quoted(table), sql_types, primary_key))

    def store_schema(
        self, session: _Session, table: TableName, schema: Mapping[str, pl.DataType]
    ) -> None:
        schemas = quote_identifier(SQLITE_SCHEMA_TABLE)
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {schemas} "
            "(table_name TEXT PRIMARY KEY, polars_schema TEXT NOT NULL)"
        )
        session.execute(
            f"INSERT INTO {schemas} (table_name, polars_schema) VALUES (?, ?) "  # noqa: S608
            "ON CONFLICT (table_name) DO UPDATE SET polars_schema = excluded.polars_schema",
            [self.physical_name(table), encode_frame_schema(schema)],
        )

    def insert(self, session: _Session, target: str, frame: pl.DataFrame) -> None:
        names = ", ".join(quote_identifier(c) for c in frame.columns)
        markers = ", ".join("?" for _ in frame.columns)
        statement = f"INSERT INTO {target} ({names}) VALUES ({markers})"  # noqa: S608 - quoted
        stored = frame.select(_sqlite_value(name, dtype) for name, dtype in frame.schema.items())
        cursor = session.driver.cursor()
        try:
            cursor.executemany(statement, stored.iter_rows())
        finally:
            cursor.close()

    def upsert(
        self,
        session: _Session,
        table: TableName,
        frame: pl.DataFrame,
        sql_types: Mapping[str, str],
        primary_key: Sequence[str],
        info: _TableInfo,
    ) -> None:
        stage = f"temp.{quote_identifier(STAGE_TABLE)}"
        session.execute(f"DROP TABLE IF EXISTS {stage}")
        columns = ", ".join(f"{quote_identifier(name)} {sql_types[name]}" for name in frame.columns)
        session.execute(f"CREATE TABLE {stage} ({columns})")
        self.insert(session, stage, frame)
        # "WHERE true" resolves SQLite's parsing ambiguity of INSERT ... SELECT ... ON CONFLICT.
        for statement in self._merge_statements(
            self.quoted(table), stage, frame.columns, primary_key, info, source_filter=" WHERE true"
        ):
            session.execute(statement)
        session.execute(f"DROP TABLE {stage}")

    def temporal_kind(self, info: _TableInfo, column: str, asset: str) -> TemporalKind:
        data_type = info.column_types[column].upper()
        if data_type == "DATE":
            return "date"
        if data_type == "TIMESTAMPTZ":
            return "timestamptz"
        if data_type.startswith(("TIMESTAMP", "DATETIME")):
            return "timestamp"
        raise _kind_error(asset, column, data_type)

    def where(
        self, filters: Sequence[ColumnFilter], info: _TableInfo, asset: str
    ) -> tuple[str, list[Any]]:
        """Like the base, with bounds as the text the column stores (fixed width, so ordered)."""
        if not filters:
            return "TRUE", []
        stored = info.polars_schema() or {}
        clauses: list[str] = []
        params: list[Any] = []
        for column_filter in filters:
            column = column_filter.column
            if column not in info.column_types:
                raise _missing_column_error(asset, column, list(info.column_types))
            kind = self.temporal_kind(info, column, asset) if column_filter.windows else None
            dtype = stored.get(column)
            digits = _TIME_UNIT_DIGITS[dtype.time_unit] if isinstance(dtype, pl.Datetime) else 6
            clause, values = build_where_clause(
                [column_filter],
                temporal_kind=lambda _column, kind=kind: kind or "timestamp",
                placeholder=lambda _index: "?",
            )
            clauses.append(clause)
            params.extend(_sqlite_bound(value, digits) for value in values)
        return " AND ".join(clauses), params

    def read(
        self,
        session: _Session,
        table: TableName,
        columns: Sequence[str],
        where: str,
        params: Sequence[Any],
        info: _TableInfo,
    ) -> pl.DataFrame:
        names = ", ".join(quote_identifier(c) for c in columns)
        query = f"SELECT {names} FROM {self.quoted(table)} WHERE {where}"  # noqa: S608 - quoted
        rows = session.execute(query, params)
        stored = info.polars_schema() or {}
        values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        series, decoders = [], []
        for name, column_values in zip(columns, values, strict=True):
            storage, decode = _sqlite_decoder(name, stored.get(name), info.column_types[name])
            series.append(pl.Series(name, list(column_values), dtype=storage))
            decoders.append(decode)
        return pl.DataFrame(series).select(decoders)


def _sqlite_value(name: str, dtype: pl.DataType) -> pl.Expr:
    """The value SQLite stores for a column: numbers and bytes as they are, the rest as text."""
    col = pl.col(name)
    if dtype == pl.UInt64 or isinstance(dtype, pl.Decimal):
        return col.cast(pl.String)
    if dtype in (pl.Categorical,) or isinstance(dtype, pl.Enum):
        return col.cast(pl.String)
    if dtype == pl.Date:
        return col.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return col.dt.strftime(f"%Y-%m-%d %H:%M:%S%.{_TIME_UNIT_DIGITS[dtype.time_unit]}f")
    if dtype == pl.Time:
        return col.dt.strftime("%H:%M:%S%.9f")
    if isinstance(dtype, pl.Duration):
        return col.to_physical()
    return col


def _sqlite_decoder(
    name: str, dtype: pl.DataType | None, declared: str
) -> tuple[pl.DataType, pl.Expr]:
    """The polars dtype SQLite's values arrive in, and the expression restoring the column."""
    col = pl.col(name)
    if dtype is None:  # a table made outside this manager: go by the declared type's affinity
        upper = declared.upper()
        if "INT" in upper:
            return pl.Int64(), col
        if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
            return pl.Float64(), col
        if "BLOB" in upper or not upper:
            return pl.Binary(), col
        return pl.String(), col
    if dtype == pl.Boolean:
        return pl.Int64(), col.cast(pl.Boolean)
    if dtype.is_integer() and dtype != pl.UInt64:
        return pl.Int64(), col
    if dtype in (pl.Float32, pl.Float64):
        return pl.Float64(), col
    if dtype == pl.Binary:
        return pl.Binary(), col
    if dtype == pl.Null:
        return pl.Null(), col
    if dtype == pl.Date:
        return pl.String(), col.str.to_date("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        parsed = col.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit=dtype.time_unit)
        if dtype.time_zone is not None:
            parsed = parsed.dt.replace_time_zone("UTC")
        return pl.String(), parsed
    if dtype == pl.Time:
        return pl.String(), col.str.to_time("%H:%M:%S%.f")
    if isinstance(dtype, pl.Duration):
        return pl.Int64(), col.cast(dtype)
    # UInt64, Decimal, String, Categorical, Enum: text, cast back by restore_dtypes.
    return pl.String(), col


def _sqlite_bound(value: Any, digits: int) -> Any:
    """A partition bound in the text form SQLite stores dates and timestamps in."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        fraction = f"{value.microsecond:06d}000"[:digits]
        return f"{value:%Y-%m-%d %H:%M:%S}.{fraction}" if digits else f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
