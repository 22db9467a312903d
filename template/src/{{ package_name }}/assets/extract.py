"""Extract assets: raw exchange data through ccxt, stored as `{"data": [...], "metadata": {...}}`.

One OHLCV asset and one markets asset per configured exchange. They call the exchange only
through the `exchange` resource, so the same code runs live or on replayed payloads.
"""

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

import dagster as dg

from ..automation import EXTRACT_CONDITION
from ..partitions import daily_partitions
from ..resources import ExchangeResource
from ..settings import EXCHANGES, SYMBOLS, TIMEFRAME

EXTRACT_GROUP = "extract"
RAW_PREFIX = "raw"

# Fields of ccxt's unified market structure worth keeping; the rest is exchange-specific noise.
MARKET_FIELDS = ("id", "symbol", "base", "quote", "type", "spot", "active", "precision", "limits")

# Network hiccups that outlast the resource's own retries get a second chance at step level:
# about 30 s, then about 90 s later. Jitter spreads each wait by up to 30 s either way, so the
# steps of many partitions (a backfill) that failed together do not all retry in the same second.
EXTRACT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def ohlcv_asset_key(exchange_id: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_PREFIX, f"{exchange_id}_ohlcv"])


def markets_asset_key(exchange_id: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_PREFIX, f"{exchange_id}_markets"])


def build_extract_assets(
    exchange_id: str,
    symbols: Sequence[str] = SYMBOLS,
    timeframe: str = TIMEFRAME,
    retry_policy: dg.RetryPolicy = EXTRACT_RETRY_POLICY,
) -> list[dg.AssetsDefinition]:
    """The OHLCV and markets assets of one exchange."""

    @dg.asset(
        key=ohlcv_asset_key(exchange_id),
        partitions_def=daily_partitions,
        io_manager_key="extract_io_manager",
        group_name=EXTRACT_GROUP,
        kinds={"ccxt", "python"},
        retry_policy=retry_policy,
        automation_condition=EXTRACT_CONDITION,
        description=f"{timeframe} candles of {', '.join(symbols)} on {exchange_id}, one UTC day.",
    )
    def extract_ohlcv(
        context: dg.AssetExecutionContext, exchange: ExchangeResource
    ) -> dict[str, Any]:
        window = context.partition_time_window
        data = []
        for symbol in symbols:
            candles = exchange.fetch_ohlcv_range(
                exchange_id, symbol, timeframe, window.start, window.end
            )
            data.append({"symbol": symbol, "timeframe": timeframe, "ohlcv": candles})
        candle_counts = {entry["symbol"]: len(entry["ohlcv"]) for entry in data}
        context.add_output_metadata(
            {"candles": sum(candle_counts.values()), "candles_per_symbol": candle_counts}
        )
        return {
            "data": data,
            "metadata": {
                "exchange": exchange_id,
                "timeframe": timeframe,
                "window_start_ms": int(window.start.timestamp() * 1000),
                "window_end_ms": int(window.end.timestamp() * 1000),
                "mode": exchange.mode,
                "candles_per_symbol": candle_counts,
                "ccxt_version": version("ccxt"),
            },
        }

    @dg.asset(
        key=markets_asset_key(exchange_id),
        partitions_def=daily_partitions,
        io_manager_key="extract_io_manager",
        group_name=EXTRACT_GROUP,
        kinds={"ccxt", "python"},
        retry_policy=retry_policy,
        automation_condition=EXTRACT_CONDITION,
        description=f"Markets listed on {exchange_id} (symbols, base/quote, precision, active).",
    )
    def extract_markets(
        context: dg.AssetExecutionContext, exchange: ExchangeResource
    ) -> dict[str, Any]:
        markets = exchange.load_markets(exchange_id)
        data = [
            {field: market.get(field) for field in MARKET_FIELDS}
            for _, market in sorted(markets.items())
        ]
        context.add_output_metadata({"markets": len(data)})
        return {
            "data": data,
            "metadata": {
                "exchange": exchange_id,
                "snapshot_day": context.partition_key,
                "mode": exchange.mode,
                "ccxt_version": version("ccxt"),
            },
        }

    return [extract_ohlcv, extract_markets]


extract_assets: list[dg.AssetsDefinition] = [
    asset for exchange_id in EXCHANGES for asset in build_extract_assets(exchange_id)
]
