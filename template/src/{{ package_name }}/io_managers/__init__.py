"""IO managers of the project; shared semantics live in :mod:`.core`.

Environments bind these to the IO manager keys the assets name (``extract_io_manager``,
``transform_io_manager``); asset code never names a backend.
"""

from .duckdb import DuckDBIOManager
from .filesystem import FilesystemIOManager
from .iceberg import IcebergIOManager
from .kuzu import KuzuDBIOManager
from .memory import InMemoryIOManager
from .s3 import S3IOManager
from .sql import SQLIOManager

__all__ = [
    "DuckDBIOManager",
    "FilesystemIOManager",
    "IcebergIOManager",
    "InMemoryIOManager",
    "KuzuDBIOManager",
    "S3IOManager",
    "SQLIOManager",
]
