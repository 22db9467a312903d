"""IcebergIOManager and its pieces: the manager and its settings (``manager``), the pyiceberg
client under the shared table-store algorithm (``client``), partition filters and specs
(``filters``), dtype conversion (``types``), orphan-file removal (``maintenance``). pyiceberg
is imported inside functions only.
"""

from .client import IcebergClient, IcebergCommitError, IcebergSettings, ReadOptions
from .maintenance import OrphanFile
from .manager import IcebergIOManager

__all__ = [
    "IcebergClient",
    "IcebergCommitError",
    "IcebergIOManager",
    "IcebergSettings",
    "OrphanFile",
    "ReadOptions",
]
