"""Transform assets: raw exchange payloads -> normalized polars frames with explicit schemas.

A run of a range of days (a single-run backfill) transforms the whole range at once and returns
one frame, the rows of every day, equal to the concatenation of the days run one by one: the
features are computed per UTC day (session VWAP, rolling windows restart each day).
"""

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import dagster as dg
import polars as pl

from ..automation import DOWNSTREAM_CONDITION, TRANSFORM_FRESHNESS_POLICY
from ..catalog import OWNERS, layer_tags
from ..charts import chart_metadata, trend_metadata
from ..checks import OHLCV_CHECK_SPECS, run_ohlcv_checks
from ..partitions import daily_backfill_policy, daily_partitions
from ..retry import STORAGE_RETRY_POLICY
from ..schemas import CANDLE_KEY, FEATURES_SCHEMA, OHLCV_SCHEMA, timeframe_duration
from ..settings import EXCHANGES, SYMBOLS, TIMEFRAME
from .extract import ohlcv_asset_key

TRANSFORM_GROUP = "transform"
MARKET_PREFIX = "market"

# Candles in the rolling volatility window; the first candles of a day use what is available.
VOLATILITY_WINDOW = 12

_CANDLE_COLUMNS = ["ts_ms", "open", "high", "low", "close", "volume"]
_CANDLE_SCHEMA = {"ts_ms": pl.Int64} | {name: pl.Float64 for name in _CANDLE_COLUMNS[1:]}

# Shared by every table of the transform layer: how a partition maps to rows, and their key.
TABLE_METADATA = {"partition_expr": "ts", "primary_key": CANDLE_KEY}

# Concurrency pool of the transform layer's writers: embedded warehouses (DuckDB) take one
# writer process at a time; the instance's dagster.yaml sets the pool limits.
WAREHOUSE_POOL = "warehouse_writer"


# Which columns of market/ohlcv each features column is computed from (the UI's column lineage).
OHLCV_KEY = dg.AssetKey([MARKET_PREFIX, "ohlcv"])


def _from_ohlcv(*columns: str) -> list[dg.TableColumnDep]:
    return [dg.TableColumnDep(asset_key=OHLCV_KEY, column_name=column) for column in columns]


_SERIES = ("exchange", "symbol", "ts")
FEATURES_COLUMN_LINEAGE = dg.TableColumnLineage(
    deps_by_column={
        "exchange": _from_ohlcv("exchange"),
        "symbol": _from_ohlcv("symbol"),
        "timeframe": _from_ohlcv("timeframe"),
        "ts": _from_ohlcv("ts"),
        "close": _from_ohlcv("close"),
        "volume": _from_ohlcv("volume"),
        "simple_return": _from_ohlcv(*_SERIES, "close"),
        "log_return": _from_ohlcv(*_SERIES, "close"),
        "vwap": _from_ohlcv(*_SERIES, "high", "low", "close", "volume"),
        "rolling_volatility": _from_ohlcv(*_SERIES, "close"),
    }
)


def normalize_ohlcv(
    payloads: Mapping[str, Mapping[str, Any]],
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> pl.DataFrame:
    """One frame of candles across exchanges: typed, inside the window, deduplicated, sorted.

    `payloads` maps an exchange id to its raw OHLCV extract payload.
    """
    frames = [
        pl.DataFrame(
            entry["ohlcv"], schema=_CANDLE_SCHEMA, orient="row", strict=False
        ).with_columns(
            exchange=pl.lit(exchange_id),
            symbol=pl.lit(entry["symbol"]),
            timeframe=pl.lit(entry["timeframe"]),
        )
        for exchange_id, payload in payloads.items()
        for entry in payload["data"]
    ]
    if not frames:
        return OHLCV_SCHEMA.to_frame()
    candles = pl.concat(frames).with_columns(
        ts=pl.from_epoch("ts_ms", time_unit="ms").dt.replace_time_zone("UTC")
    )
    if window_start is not None:
        candles = candles.filter(pl.col("ts") >= window_start)
    if window_end is not None:
        candles = candles.filter(pl.col("ts") < window_end)
    return (
        candles.unique(subset=CANDLE_KEY, keep="last")
        .select(pl.col(name).cast(dtype) for name, dtype in OHLCV_SCHEMA.items())
        .sort(CANDLE_KEY)
    )


def range_payload(payload: Mapping[str, Any], days: Sequence[str]) -> Mapping[str, Any]:
    """One extract payload for the run: the day's, or the days' `data` joined for a range.

    A range input of an extract asset is `{day: payload}` (what its range run returned).
    """
    if len(days) == 1:
        return payload
    return {"data": [entry for day in days for entry in payload[day]["data"]]}


def compute_features(
    ohlcv: pl.DataFrame, volatility_window: int = VOLATILITY_WINDOW
) -> pl.DataFrame:
    """Per-symbol returns, log returns, session VWAP and rolling volatility of log returns.

    Each (exchange, symbol, UTC day) is one series, so a frame of many days gives the rows
    that each day alone gives.
    """
    series = ["exchange", "symbol", pl.col("ts").dt.date()]
    previous_close = pl.col("close").shift(1).over(series, order_by="ts")
    typical_volume = ((pl.col("high") + pl.col("low") + pl.col("close")) / 3) * pl.col("volume")
    log_return = (pl.col("close") / previous_close).log()
    features = ohlcv.sort(CANDLE_KEY).with_columns(
        simple_return=pl.col("close") / previous_close - 1,
        log_return=log_return,
        vwap=typical_volume.cum_sum().over(series, order_by="ts")
        / pl.col("volume").cum_sum().over(series, order_by="ts"),
    )
    features = features.with_columns(
        rolling_volatility=pl.col("log_return")
        .rolling_std(window_size=volatility_window, min_samples=2)
        .over(series, order_by="ts")
    )
    return features.select(pl.col(name).cast(dtype) for name, dtype in FEATURES_SCHEMA.items())


@dg.asset(
    key=[MARKET_PREFIX, "ohlcv"],
    ins={
        f"{exchange_id}_ohlcv": dg.AssetIn(key=ohlcv_asset_key(exchange_id))
        for exchange_id in EXCHANGES
    },
    partitions_def=daily_partitions,
    io_manager_key="transform_io_manager",
    group_name=TRANSFORM_GROUP,
    kinds={"polars"},
    owners=OWNERS,
    tags=layer_tags(TRANSFORM_GROUP),
    metadata=TABLE_METADATA,
    pool=WAREHOUSE_POOL,
    retry_policy=STORAGE_RETRY_POLICY,
    backfill_policy=daily_backfill_policy(),
    automation_condition=DOWNSTREAM_CONDITION,
    freshness_policy=TRANSFORM_FRESHNESS_POLICY,
    check_specs=OHLCV_CHECK_SPECS,
    description=f"{TIMEFRAME} candles of every exchange and symbol, normalized, per UTC day.",
)
def ohlcv(
    context: dg.AssetExecutionContext, **raw_ohlcv: dict[str, Any]
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    window, days = context.partition_time_window, context.partition_keys
    payloads = {
        name.removesuffix("_ohlcv"): range_payload(payload, days)
        for name, payload in raw_ohlcv.items()
    }
    frame = normalize_ohlcv(payloads, window.start, window.end)
    yield dg.Output(frame)
    yield from run_ohlcv_checks(frame, window.start, window.end, EXCHANGES, SYMBOLS, TIMEFRAME)


@dg.asset(
    key=[MARKET_PREFIX, "ohlcv_features"],
    ins={"ohlcv": dg.AssetIn(key=[MARKET_PREFIX, "ohlcv"])},
    partitions_def=daily_partitions,
    io_manager_key="transform_io_manager",
    group_name=TRANSFORM_GROUP,
    kinds={"polars"},
    owners=OWNERS,
    tags=layer_tags(TRANSFORM_GROUP),
    metadata=TABLE_METADATA,
    pool=WAREHOUSE_POOL,
    retry_policy=STORAGE_RETRY_POLICY,
    backfill_policy=daily_backfill_policy(),
    automation_condition=DOWNSTREAM_CONDITION,
    freshness_policy=TRANSFORM_FRESHNESS_POLICY,
    description=(
        "Per-symbol returns, log returns, session VWAP and rolling volatility. Each day's "
        "materialization shows a chart per symbol and the day's return, volatility and "
        "candle counts (the Plots tab draws them across days)."
    ),
)
def ohlcv_features(
    context: dg.AssetExecutionContext, ohlcv: pl.DataFrame
) -> dg.Output[pl.DataFrame]:
    features = compute_features(ohlcv)
    window, days = context.partition_time_window, context.partition_keys
    metadata: dict[str, Any] = {
        "dagster/column_lineage": FEATURES_COLUMN_LINEAGE,
        **trend_metadata(ohlcv, expected_candles(window.start, window.end)),
    }
    # Charts of a single day only: a range run would copy them to every day it covers.
    if len(days) == 1:
        metadata |= chart_metadata(features, SYMBOLS, window.start, f"{days[0]} ({TIMEFRAME})")
    return dg.Output(features, metadata=metadata)


def expected_candles(
    window_start: datetime,
    window_end: datetime,
    exchanges: Sequence[str] = EXCHANGES,
    symbols: Sequence[str] = SYMBOLS,
    timeframe: str = TIMEFRAME,
) -> int:
    """Candles a complete window has: one per timeframe step, exchange and symbol."""
    steps = (window_end - window_start) // timeframe_duration(timeframe)
    return steps * len(exchanges) * len(symbols)


transform_assets: list[dg.AssetsDefinition] = [ohlcv, ohlcv_features]
