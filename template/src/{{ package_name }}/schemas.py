"""Explicit, stable schemas of the transformed tables and the timeframe arithmetic they need."""

from datetime import timedelta

import polars as pl

TIMESTAMP = pl.Datetime("us", "UTC")

OHLCV_SCHEMA = pl.Schema(
    {
        "exchange": pl.String,
        "symbol": pl.String,
        "timeframe": pl.String,
        "ts": TIMESTAMP,
        "open": pl.Float64,
        "high": pl.Float64,
        "low": pl.Float64,
        "close": pl.Float64,
        "volume": pl.Float64,
    }
)

FEATURES_SCHEMA = pl.Schema(
    {
        "exchange": pl.String,
        "symbol": pl.String,
        "timeframe": pl.String,
        "ts": TIMESTAMP,
        "close": pl.Float64,
        "volume": pl.Float64,
        "simple_return": pl.Float64,
        "log_return": pl.Float64,
        "vwap": pl.Float64,
        "rolling_volatility": pl.Float64,
    }
)

CANDLE_KEY = ["exchange", "symbol", "ts"]

TIMEFRAME_DURATIONS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}


def timeframe_duration(timeframe: str) -> timedelta:
    try:
        return TIMEFRAME_DURATIONS[timeframe]
    except KeyError:
        choices = ", ".join(TIMEFRAME_DURATIONS)
        raise ValueError(f"Unsupported timeframe {timeframe!r}: choose one of {choices}.") from None
