"""Assets of the pipeline: extract (ccxt -> dict), transform (dict -> polars), graph (Kuzu)."""

from .extract import build_extract_assets, extract_assets
from .graph import build_graph_assets, graph_assets
from .transform import ohlcv, ohlcv_features, transform_assets

__all__ = [
    "build_extract_assets",
    "build_graph_assets",
    "extract_assets",
    "graph_assets",
    "ohlcv",
    "ohlcv_features",
    "transform_assets",
]
