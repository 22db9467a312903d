"""The file stores' shared manager: hive layout, one codec per payload kind, a small backend.

- ``backend``: the :class:`~.backend.FileBackend` interface (put, get, exists, delete, uri);
- ``codecs``: JSON for dicts, Parquet for frames, picked by payload kind;
- ``manager``: :class:`~.manager.FileStore`, the one algorithm of Filesystem, S3 and memory.

Backends live next to their managers (``filesystem``, ``s3``, ``memory``) and never import
each other.
"""

from .backend import FileBackend, Source, Writer
from .codecs import CODECS, Codec, JsonCodec, ParquetCodec
from .manager import FileStore, Written

__all__ = [
    "CODECS",
    "Codec",
    "FileBackend",
    "FileStore",
    "JsonCodec",
    "ParquetCodec",
    "Source",
    "Writer",
    "Written",
]
