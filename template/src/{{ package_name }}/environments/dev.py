"""dev: everything on this machine. Raw JSON files, a DuckDB warehouse, a Kuzu graph, replayed
exchanges.

Data goes to DATA_DIR (default ./data, relative to where `dg dev` runs): raw files under
data/raw/ (the asset key prefix), the warehouse in data/crypto.duckdb, the market graph in
data/graph.kuzu and its read-only copy for Kuzu Explorer in data/explorer/graph.kuzu.
Set EXCHANGE_MODE=live to pull real data from the exchanges.
"""

import os
from pathlib import Path
from typing import Any

import dagster as dg

from ..io_managers import DuckDBIOManager, FilesystemIOManager, KuzuDBIOManager
from ..resources import ExchangeResource
from ..resources.graph import GraphQueryResource
from . import build_definitions


def dev_resources(
    data_dir: str | Path | None = None, exchange_mode: str | None = None
) -> dict[str, Any]:
    data_dir = Path(data_dir or os.environ.get("DATA_DIR", "data"))
    return {
        "exchange": ExchangeResource(
            mode=exchange_mode or os.environ.get("EXCHANGE_MODE", "replay")
        ),
        "extract_io_manager": FilesystemIOManager(base_path=str(data_dir)),
        "transform_io_manager": DuckDBIOManager(db_path=str(data_dir / "crypto.duckdb")),
        # Explorer opens the snapshot, never graph.kuzu itself, so it cannot block a run.
        "graph_io_manager": KuzuDBIOManager(
            db_path=str(data_dir / "graph.kuzu"),
            snapshot_path=str(data_dir / "explorer" / "graph.kuzu"),
        ),
        "graph": GraphQueryResource(db_path=str(data_dir / "graph.kuzu")),
    }


def definitions() -> dg.Definitions:
    """The project's Definitions bound to the dev resources (built when Dagster loads them)."""
    return build_definitions(dev_resources())
