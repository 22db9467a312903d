"""dev: everything on this machine. Raw JSON files, a DuckDB warehouse, a Kuzu graph, replayed
exchanges.

Data goes to DATA_DIR (default ./data, relative to where `dg dev` runs): raw files under
data/raw/ (the asset key prefix), the warehouse in data/crypto.duckdb, the market graph in
data/graph.kuzu and its read-only copy for Kuzu Explorer in data/explorer/graph.kuzu.
Assets that name no IO manager key (Dagster's default `io_manager`) go to the same file store
as the raw layer: data/<asset key>.json or .parquet. Raw JSON is indented here, for reading
while debugging (JSON_INDENT below; None writes one line).
Set EXCHANGE_MODE=live to pull real data from the exchanges, and TRANSFORM_STORE=iceberg to
keep the transform layer as Iceberg tables (catalog data/iceberg/catalog.db, files in
data/iceberg/) instead of DuckDB.
"""

import os
from pathlib import Path
from typing import Any

import dagster as dg

from ..io_managers import (
    DuckDBIOManager,
    FilesystemIOManager,
    IcebergIOManager,
    KuzuDBIOManager,
)
from ..resources import ExchangeResource
from ..resources.graph import GraphQueryResource
from . import build_definitions
from .shared import chosen_transform_store

#: TRANSFORM_STORE in dev: DuckDB (default) or Iceberg tables on local files.
DEV_TRANSFORM_STORES = ("duckdb", "iceberg")

# Indentation of the JSON files (dict payloads) the file store writes in dev; loads are the same.
JSON_INDENT = 2


def dev_transform_store(data_dir: Path, store: str | None = None) -> Any:
    """The dev transform layer: ``store`` or TRANSFORM_STORE (duckdb, the default, or iceberg)."""
    if chosen_transform_store(DEV_TRANSFORM_STORES, store) == "iceberg":
        lake = data_dir / "iceberg"
        return IcebergIOManager(catalog_uri=f"sqlite:///{lake / 'catalog.db'}", warehouse=str(lake))
    return DuckDBIOManager(db_path=str(data_dir / "crypto.duckdb"))


def dev_resources(
    data_dir: str | Path | None = None,
    exchange_mode: str | None = None,
    transform_store: str | None = None,
) -> dict[str, Any]:
    data_dir = Path(data_dir or os.environ.get("DATA_DIR", "data"))
    files = FilesystemIOManager(base_path=str(data_dir), json_indent=JSON_INDENT)
    return {
        "exchange": ExchangeResource(
            mode=exchange_mode or os.environ.get("EXCHANGE_MODE", "replay")
        ),
        "io_manager": files,
        "extract_io_manager": files,
        "transform_io_manager": dev_transform_store(data_dir, transform_store),
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
