"""The warehouse query resource: SQL over the DuckDB warehouse file, answered as polars frames.

Asset code and checks run SQL against the warehouse through this resource, never through the
IO manager object: storing a table and asking a question are separate concerns. It opens the
same file as ``DuckDBIOManager`` the same way (:mod:`..io_managers.duckdb_connection`): one
connection per call, the same connection settings, the same bounded wait while another process
holds the file, the same ``StorageLockedError`` naming the holder.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
from pydantic import Field

from ..io_managers.core.config import KnownSettings
from ..io_managers.duckdb_connection import (
    DuckDBConnector,
    connection_config_field,
    connection_settings,
    lock_timeout_field,
    memory_limit_field,
    temp_directory_field,
    threads_field,
)

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

#: Values of a statement: a sequence for ``?`` placeholders, a mapping for ``$name`` ones.
Parameters = Sequence[Any] | Mapping[str, Any] | None


class DuckDBQueryResource(dg.ConfigurableResource, KnownSettings):
    """SQL over the DuckDB warehouse file; values always bound as parameters.

    :meth:`query` opens the file read-only, runs one statement, returns a polars DataFrame and
    closes the file. :meth:`execute` runs one statement that writes, in one transaction.
    :meth:`connection` gives a connection for several statements (read-write: one transaction,
    committed when the block ends, rolled back if it raises). Values go in ``parameters``
    (``?`` with a list, ``$name`` with a dict), never into the SQL text.

    Tables are ``<schema>.<table>`` as the IO manager writes them; in a file named like one of
    its schemas (``market.duckdb`` holding ``market.ohlcv``) add the catalog:
    ``market.market.ohlcv``. A missing file is a ``MissingDataError``; an empty (0-byte) file
    is an empty database.

    Example::

        @dg.asset(deps=[ohlcv])
        def daily_high(warehouse: DuckDBQueryResource) -> pl.DataFrame:
            return warehouse.query(
                "SELECT symbol, max(high) AS high FROM market.ohlcv "
                "WHERE exchange = ? GROUP BY symbol ORDER BY symbol",
                ["binance"],
            )

        defs = dg.Definitions(
            assets=[daily_high],
            resources={"warehouse": DuckDBQueryResource(db_path="data/crypto.duckdb")},
        )
    """

    db_path: str = Field(description="Path of the DuckDB database file (the warehouse's).")
    lock_timeout_seconds: float = lock_timeout_field()
    memory_limit: str | None = memory_limit_field()
    threads: int | None = threads_field()
    temp_directory: str | None = temp_directory_field()
    connection_config: dict[str, Any] = connection_config_field()

    def connector(self) -> DuckDBConnector:
        """Opens the file with this resource's settings and lock waits."""
        settings = connection_settings(
            memory_limit=self.memory_limit,
            threads=self.threads,
            temp_directory=self.temp_directory,
            connection_config=self.connection_config,
            owner="DuckDBQueryResource",
        )
        return DuckDBConnector(
            self.db_path, self.lock_timeout_seconds, settings, owner="DuckDBQueryResource"
        )

    @contextmanager
    def connection(self, *, read_only: bool = True) -> Iterator[DuckDBPyConnection]:
        """A connection for several statements, closed when the block ends.

        ``read_only=False``: the block is one transaction, committed when it ends and rolled
        back if it raises; the file is created if missing.
        """
        log = dg.get_dagster_logger()
        with self.connector().connect(read_only=read_only, log=log) as connection:
            if read_only:
                yield connection
                return
            connection.begin()
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    def query(self, sql: str, parameters: Parameters = None) -> pl.DataFrame:
        """Run one read-only statement and return its result.

        Reference values as ``?`` (``parameters`` a list) or ``$name`` (a dict).
        """
        with self.connection(read_only=True) as connection:
            relation = connection.sql(sql, params=_bound(parameters))
            # A statement without a result (SET, PRAGMA) gives no relation: an empty frame.
            return relation.pl() if relation is not None else pl.DataFrame()

    def execute(self, sql: str, parameters: Parameters = None) -> list[tuple[Any, ...]]:
        """Run one statement that may write, in one transaction; return its rows, if any."""
        with self.connection(read_only=False) as connection:
            cursor = connection.execute(sql, _bound(parameters))
            return cursor.fetchall() if cursor.description else []


def _bound(parameters: Parameters) -> Any:
    if parameters is None:
        return None
    if isinstance(parameters, Mapping):
        return dict(parameters)
    if isinstance(parameters, str | bytes):
        raise TypeError(
            "parameters must be a list (for ? placeholders) or a dict (for $name), "
            f"not a {type(parameters).__name__}: wrap a single value as [value]."
        )
    return list(parameters)
