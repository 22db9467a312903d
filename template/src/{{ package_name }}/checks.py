"""Data-quality checks of the normalized OHLCV table, run with each partition it writes.

The checks are pure functions of a frame, so tests (and other assets) can call them directly.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime

import dagster as dg
import polars as pl

from .markdown import markdown_table
from .schemas import CANDLE_KEY, TIMESTAMP, timeframe_duration

OHLCV_ASSET_KEY = dg.AssetKey(["market", "ohlcv"])

# How many offending rows a failed check lists in its metadata.
EXAMPLES_SHOWN = 5

OHLCV_CHECK_SPECS = [
    dg.AssetCheckSpec(
        "ohlc_consistency",
        asset=OHLCV_ASSET_KEY,
        blocking=True,
        description="low <= open, close <= high and volume >= 0 on every candle.",
    ),
    dg.AssetCheckSpec(
        "unique_candles",
        asset=OHLCV_ASSET_KEY,
        blocking=True,
        description="No two candles share (exchange, symbol, ts).",
    ),
    dg.AssetCheckSpec(
        "no_missing_candles",
        asset=OHLCV_ASSET_KEY,
        description="Every configured exchange and symbol has every candle of the day.",
    ),
]


def _examples(frame: pl.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(frame.head(EXAMPLES_SHOWN)))


def check_ohlc_consistency(candles: pl.DataFrame) -> dg.AssetCheckResult:
    broken = candles.filter(
        ~(
            (pl.col("low") <= pl.min_horizontal("open", "close"))
            & (pl.col("high") >= pl.max_horizontal("open", "close"))
            & (pl.col("volume") >= 0)
        ).fill_null(False)
    )
    metadata: dict[str, int | dg.MetadataValue] = {"inconsistent_candles": broken.height}
    if broken.height:
        metadata["examples"] = _examples(broken)
    return dg.AssetCheckResult(
        check_name="ohlc_consistency",
        asset_key=OHLCV_ASSET_KEY,
        passed=broken.height == 0,
        metadata=metadata,
    )


def check_unique_candles(candles: pl.DataFrame) -> dg.AssetCheckResult:
    duplicates = candles.group_by(CANDLE_KEY).len().filter(pl.col("len") > 1)
    metadata: dict[str, int | dg.MetadataValue] = {"duplicated_keys": duplicates.height}
    if duplicates.height:
        metadata["examples"] = _examples(duplicates.sort(CANDLE_KEY))
    return dg.AssetCheckResult(
        check_name="unique_candles",
        asset_key=OHLCV_ASSET_KEY,
        passed=duplicates.height == 0,
        metadata=metadata,
    )


def check_no_missing_candles(
    candles: pl.DataFrame,
    window_start: datetime,
    window_end: datetime,
    exchanges: Sequence[str],
    symbols: Sequence[str],
    timeframe: str,
) -> dg.AssetCheckResult:
    """Every (exchange, symbol) of the configuration has every candle of the window."""
    expected_ts = pl.datetime_range(
        window_start,
        window_end,
        interval=timeframe_duration(timeframe),
        closed="left",
        time_unit="us",
        time_zone="UTC",
        eager=True,
    ).alias("ts")
    expected = (
        pl.DataFrame({"exchange": list(exchanges)})
        .join(pl.DataFrame({"symbol": list(symbols)}), how="cross")
        .join(expected_ts.to_frame().cast({"ts": TIMESTAMP}), how="cross")
    )
    missing = expected.join(candles.select(CANDLE_KEY), on=CANDLE_KEY, how="anti").sort(CANDLE_KEY)
    per_series = missing.group_by("exchange", "symbol").len().sort("exchange", "symbol")
    metadata: dict[str, int | dg.MetadataValue] = {
        "expected_candles": expected.height,
        "missing_candles": missing.height,
    }
    if missing.height:
        metadata["missing_per_series"] = _examples(per_series)
        metadata["first_missing"] = _examples(missing)
    return dg.AssetCheckResult(
        check_name="no_missing_candles",
        asset_key=OHLCV_ASSET_KEY,
        passed=missing.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def run_ohlcv_checks(
    candles: pl.DataFrame,
    window_start: datetime,
    window_end: datetime,
    exchanges: Sequence[str],
    symbols: Sequence[str],
    timeframe: str,
) -> Iterator[dg.AssetCheckResult]:
    yield check_ohlc_consistency(candles)
    yield check_unique_candles(candles)
    yield check_no_missing_candles(candles, window_start, window_end, exchanges, symbols, timeframe)
