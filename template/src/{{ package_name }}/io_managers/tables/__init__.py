"""Table stores: one manager algorithm (:mod:`.manager`) over a typed client per database.

- ``client``: :class:`~.client.TableClient`, what a backend provides (catalog, create, delete
  slice, insert, upsert, read, add column, refused dtypes and values), and :class:`TableInfo`;
- ``manager``: :class:`~.manager.TableStore`, the write and read algorithm shared by DuckDB,
  PostgreSQL and SQLite;
- ``io_manager``: :class:`TableIOManager`, the configuration and entry points they share;
- ``statements``: SQL statements more than one client uses.
"""

from .client import FrameWrite, SchemaEvolution, Session, SliceRead, TableClient, TableInfo
from .io_manager import TableIOManager
from .manager import TableStore

__all__ = [
    "FrameWrite",
    "SchemaEvolution",
    "Session",
    "SliceRead",
    "TableClient",
    "TableIOManager",
    "TableInfo",
    "TableStore",
]
