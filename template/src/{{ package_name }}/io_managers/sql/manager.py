"""SQLIOManager: polars DataFrames as PostgreSQL or SQLite tables, partitions as table slices.

The manager is configuration; connections live in :mod:`.connection`, the backends in
:mod:`.postgres` and :mod:`.sqlite`, and the write and read algorithm is the one every table store
shares (:class:`..tables.TableStore`). See docs/io-manager-sql.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr

from ..tables import TableIOManager
from .common import SQLClient
from .connection import DbType, SQLConnection
from .postgres import PostgresClient
from .sqlite import SQLiteClient

if TYPE_CHECKING:
    from sqlalchemy import URL


class SQLIOManager(TableIOManager):
    """Stores polars DataFrames as tables of PostgreSQL or SQLite.

    Table: ``<schema>.<table>``; schema from asset metadata ``schema``, then this manager's
    ``schema``, then the asset key prefix, then ``public`` (PostgreSQL) / ``main`` (SQLite, which
    has no schemas: other schemas become a ``<schema>__`` table-name prefix). Partitioned assets
    need metadata ``partition_expr``; ``write_mode`` overwrite (default), append or upsert (with
    ``primary_key``); ``columns`` on inputs selects columns.

    Example::

        from dagster import Definitions, EnvVar

        defs = Definitions(
            assets=[...],
            resources={
                "transform_io_manager": SQLIOManager(
                    db_type="postgresql",
                    host="localhost",
                    db_name="crypto",
                    username="dagster",
                    password=EnvVar("POSTGRES_PASSWORD"),
                    schema="market",
                    schema_evolution="add_columns",
                )
            },
        )
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
    connect_timeout_seconds: int = Field(
        default=10, description="PostgreSQL connect timeout; SQLite busy timeout."
    )
    connect_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="PostgreSQL: attempts per read or write (first included) while the server "
        "does not answer, is starting up or shutting down, or drops the connection before "
        "COMMIT; backoff 0.5 s doubling up to 5 s with jitter, then SQLConnectionError. A "
        "refused login (wrong password, unknown user or database) is not retried: "
        "SQLLoginRefusedError at once.",
    )

    _connection: SQLConnection | None = PrivateAttr(default=None)

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

    def _sql_connection(self) -> SQLConnection:
        if self._connection is None:
            self._connection = SQLConnection(
                self.db_type,
                url=self._url(),
                database=self.db_name,
                password=self.password,
                connect_timeout_seconds=self.connect_timeout_seconds,
                connect_attempts=self.connect_attempts,
            )
        return self._connection

    def teardown_after_execution(self, context: Any) -> None:
        if self._connection is not None:
            self._connection.dispose()

    def client(self) -> SQLClient:
        connection = self._sql_connection()
        if self.db_type == "sqlite":
            return SQLiteClient(connection)
        return PostgresClient(connection)
