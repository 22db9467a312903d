"""The Kuzu graph store: polars DataFrames as node and relationship tables of one database file.

Modules, along the seams of a write:

- ``target``: what an output asks for (:class:`GraphTarget`, :class:`GraphRel`) and frame checks;
- ``days``: the partitions (days) of an output; a range's rows checked and grouped by day;
- ``catalog``: stored tables, their schema comment, kind and key checks;
- ``cypher``: quoted identifiers, MATCH/WHERE pieces, values always parameters;
- ``writes``: one transaction of CREATE / DROP / DELETE / COPY / MERGE;
- ``connection``: opening the file with bounded lock waits; who holds the lock; read queries;
- ``swap``: the private copy renamed into place, the writer lock, the Explorer snapshot;
- ``engine``: the one import of the graph engine (kuzu, or a fork);
- ``manager``: :class:`KuzuDBIOManager`, the Dagster IO manager.

See docs/io-manager-kuzu.md.
"""

from .connection import describe_lock_holders, lock_holders, run_query
from .manager import KuzuDBIOManager
from .target import REFUSED_DTYPES, GraphRel, GraphTarget, check_kuzu_values
from .writes import GraphWriteError

__all__ = [
    "REFUSED_DTYPES",
    "GraphRel",
    "GraphTarget",
    "GraphWriteError",
    "KuzuDBIOManager",
    "check_kuzu_values",
    "describe_lock_holders",
    "lock_holders",
    "run_query",
]
