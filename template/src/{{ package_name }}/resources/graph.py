"""The graph query resource: Cypher questions to the graph file, answered as polars frames.

Asset code and checks ask the graph through this resource (key ``graph``), never through the
graph IO manager: storing a table and asking a question are separate concerns, and an asset
never needs a storage object's methods. It opens the same file as ``KuzuDBIOManager`` the same
way: read-only, for one statement, waiting (bounded) while a writer holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from ..io_managers.core.config import KnownSettings
from ..io_managers.kuzu.connection import lock_timeout_field, run_query


class GraphQueryResource(dg.ConfigurableResource, KnownSettings):
    """Read-only Cypher over a Kuzu database file; values always bound as ``$name`` parameters.

    Each :meth:`query` opens the file read-only, runs one statement and closes it, so a reader
    never holds the file between questions. While another process writes it, the open is
    retried with backoff for up to ``lock_timeout_seconds``, then a ``StorageLockedError`` names
    the holder. A file that does not exist yet is a ``MissingDataError``.

    Example::

        @dg.asset(deps=[market])
        def btc_venues(graph: GraphQueryResource) -> pl.DataFrame:
            return graph.query(
                "MATCH (e:Exchange)-[:LISTS]->(m:Market) WHERE m.symbol = $symbol "
                "RETURN e.exchange AS exchange",
                {"symbol": "BTC/USDT"},
            )

        defs = dg.Definitions(
            assets=[btc_venues],
            resources={"graph": GraphQueryResource(db_path="data/graph.kuzu")},
        )
    """

    db_path: str = Field(description="Path of the Kuzu database file (the graph IO manager's).")
    lock_timeout_seconds: float = lock_timeout_field()

    def query(self, cypher: str, parameters: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run one read-only Cypher statement; reference values as ``$name`` in ``parameters``.

        Values are never formatted into ``cypher``: pass them in ``parameters``.
        """
        return run_query(
            self.db_path,
            cypher,
            parameters,
            timeout_seconds=self.lock_timeout_seconds,
            log=dg.get_dagster_logger(),
        )
