"""Assets of the pipeline: extract (ccxt -> dict) and transform (dict -> polars)."""

from .extract import build_extract_assets, extract_assets
from .transform import ohlcv, ohlcv_features, transform_assets

__all__ = [
    "build_extract_assets",
    "extract_assets",
    "ohlcv",
    "ohlcv_features",
    "transform_assets",
]
