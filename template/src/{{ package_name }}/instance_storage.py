"""The dev instance's event log: Dagster's SQLite event log storage with its connections kept open.

Dagster's `SqliteEventLogStorage` builds a new SQLAlchemy engine and opens a new SQLite connection
for every write, then closes it (which checkpoints the write-ahead log) and throws away the
statements it compiled. That costs about 6 ms per event on a 2-core machine. A backfill of a year
in one run records two asset events per asset and day (planned, then materialized): about 7,300
events for the default answers, 45 s of bookkeeping. `PooledSqliteEventLogStorage` keeps one
engine per database file, so each event costs about 1.4 ms; everything else (the files, their
schema, the queries) is Dagster's own class, unchanged.

Why a subclass and not a library: Dagster ships no pooled SQLite storage, and its PostgreSQL
storage (staging and prod) needs a server. The subclass overrides one method, `_connect`, of a
class in `dagster._core`; `tests/test_instance_storage.py` fails if a Dagster release changes it.

Usage (deploy/dev/dagster.yaml; the files are where Dagster's default SQLite storage keeps them,
`$DAGSTER_HOME/history/runs/`, so an existing instance keeps its history):

    event_log_storage:
      module: <package>.instance_storage
      class: PooledSqliteEventLogStorage
      config:
        instance_dir:
          env: DAGSTER_HOME
"""

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster._config import StringSource
from dagster._config.config_schema import UserConfigSchema
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# Run databases whose engines stay open besides the index: a run writes to its own file, and a
# webserver or daemon reads a few recent ones; older engines are closed, least recently used first.
OPEN_RUN_DATABASES = 8


def event_log_dir(instance_dir: str) -> str:
    """Where Dagster's default SQLite storage keeps an instance's event logs."""
    return str(Path(instance_dir) / "history" / "runs")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, one open engine per database file.

    Example:
        >>> storage = PooledSqliteEventLogStorage(instance_dir="/tmp/dagster_home")
        >>> storage.get_all_run_ids()
        []
    """

    def __init__(self, instance_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._instance_dir = instance_dir
        # Set before the parent's constructor, which already connects to the index database.
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        super().__init__(base_dir=event_log_dir(instance_dir), inst_data=inst_data)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {"instance_dir": StringSource}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "PooledSqliteEventLogStorage":
        return cls(instance_dir=config_value["instance_dir"], inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        """The open engine of one database file, created (and its schema with it) on first use."""
        if self._engines_pid != os.getpid():
            # A forked child must not share the parent's SQLite connections: leave them to the
            # parent and open its own.
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._engines_pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        conn_string = self.conn_string_for_shard(shard)
        if shard not in self._initialized_dbs:
            # Dagster's schema set-up inspects the file on a second connection: give it its own
            # engine, as the parent class does.
            self._initdb(
                create_engine(
                    conn_string,
                    poolclass=NullPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
            )
            self._initialized_dbs.add(shard)
        engine = create_engine(
            conn_string,
            pool_size=1,
            max_overflow=0,
            # One storage object serializes its connections under `_db_lock`; the webserver's
            # threads share it, so the connection may move between threads.
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        self._engines[shard] = engine
        run_shards = [name for name in self._engines if name != INDEX_SHARD_NAME]
        for stale in run_shards[: max(0, len(run_shards) - OPEN_RUN_DATABASES)]:
            self._engines.pop(stale).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    @property
    def open_databases(self) -> list[str]:
        """The database files (index, run ids) whose engines are open, least recent first."""
        with self._db_lock:
            return list(self._engines)

    def _close_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        # The parent deletes the run database files: close them first.
        self._close_engines()
        super().wipe()

    def upgrade(self) -> None:
        self._close_engines()
        super().upgrade()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()
