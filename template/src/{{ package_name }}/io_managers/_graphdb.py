"""The one place that imports the embedded graph database engine.

Kuzu upstream is archived; ``kuzu==0.11.3`` (its last release) is pinned in pyproject.toml. The
maintained fork LadybugDB has the same Python API under another import name: to switch, set
``GRAPH_DB_MODULE = "ladybug"`` here and replace the dependency (``uv remove kuzu && uv add
ladybug``). Database files of the two engines are not compatible, so re-materialize the graph
assets afterwards. Only one of these engines can be imported per process. See
docs/io-manager-kuzu.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType

GRAPH_DB_MODULE = "kuzu"

# What the engine says when another process holds the database file's lock.
LOCK_ERROR_TEXT = "Could not set lock on file"


def graphdb() -> ModuleType:
    """The engine module (``Database``, ``Connection``), imported on first use: start-up time."""
    return importlib.import_module(GRAPH_DB_MODULE)


def is_lock_error(error: BaseException) -> bool:
    """True when opening failed because another process holds the file."""
    return isinstance(error, RuntimeError) and LOCK_ERROR_TEXT in str(error)
