"""SQLIOManager: polars DataFrames as PostgreSQL or SQLite tables (docs/io-manager-sql.md).

- ``manager``: :class:`SQLIOManager`, the configuration, over the shared table-store algorithm;
- ``connection``: engine, one transaction per operation, bounded retries, masked errors;
- ``postgres`` / ``sqlite``: the two clients (catalog, DDL, bulk insert, upsert, read);
- ``types``: the polars dtype -> SQL column type map;
- ``copy_binary``: PostgreSQL's binary COPY format, encoded with Arrow kernels.
"""

from .connection import SQLConnectionError, SQLLoginRefusedError
from .copy_binary import COPY_CHUNK_ROWS, encode_copy_binary
from .manager import SQLIOManager
from .types import column_type

__all__ = [
    "COPY_CHUNK_ROWS",
    "SQLConnectionError",
    "SQLIOManager",
    "SQLLoginRefusedError",
    "column_type",
    "encode_copy_binary",
]
