"""The one place that imports the embedded graph database engine.

Kuzu upstream is archived; ``kuzu==0.11.3`` (its last release) is pinned in pyproject.toml. The
maintained fork LadybugDB has the same Python API under another import name: to switch, set
``GRAPH_DB_MODULE = "ladybug"`` here and replace the dependency (``uv remove kuzu && uv add
ladybug``). Database files of the two engines are not compatible, so re-materialize the graph
assets afterwards. Only one of these engines can be imported per process. See
docs/io-manager-kuzu.md.

The rest of the package talks to the engine through the small protocols below, so it never
needs the engine's own types (the engine is imported on first use only).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import polars as pl

GRAPH_DB_MODULE = "kuzu"

# What the engine says when another process holds the database file's lock.
LOCK_ERROR_TEXT = "Could not set lock on file"


class QueryResult(Protocol):
    """What one executed statement returns (the engine's ``QueryResult``).

    Example::

        frame = connection.execute("MATCH (n:Market) RETURN n.id", {}).get_as_pl()
    """

    def get_all(self) -> list[list[Any]]: ...

    def get_as_pl(self) -> pl.DataFrame: ...

    def get_column_names(self) -> list[str]: ...

    def get_column_data_types(self) -> list[str]: ...


class GraphConnection(Protocol):
    """A connection of the engine: Cypher statements, values bound as ``$name`` parameters.

    Example::

        connection.execute("MATCH (n:Market) WHERE n.symbol = $s RETURN n.id", {"s": "BTC/USDT"})
    """

    def execute(self, query: str, parameters: dict[str, Any] | None = None) -> QueryResult: ...

    def close(self) -> None: ...


def graphdb() -> ModuleType:
    """The engine module (``Database``, ``Connection``), imported on first use: start-up time."""
    return importlib.import_module(GRAPH_DB_MODULE)


def is_lock_error(error: BaseException) -> bool:
    """True when opening failed because another process holds the file."""
    return isinstance(error, RuntimeError) and LOCK_ERROR_TEXT in str(error)
