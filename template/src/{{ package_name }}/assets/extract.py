"""Extract assets: raw exchange data through ccxt, stored as `{"data": [...], "metadata": {...}}`.

One OHLCV asset and one markets asset per configured exchange. They call the exchange only
through the `exchange` resource, so the same code runs live or on replayed payloads.

A run of one day returns that day's payload. A run of a range of days (a single-run backfill)
fetches the whole window at once, paging through the exchange, and returns one payload per day,
`{"2024-01-02": {...}, "2024-01-03": {...}}`, exactly the payloads the days run one by one would
return; the IO manager stores each under its day.

Each payload's `metadata` says where and when the data came from: `exchange`, `mode` (live or
replay), `ccxt_version` and `fetched_at`, the UTC time the exchange answered (ISO 8601, e.g.
`2024-03-02T00:10:03.125+00:00`). `fetched_at` is provenance, not data: a range run and the same
days run one by one store equal payloads apart from it (`without_provenance`). In replay mode, a
configured symbol that the exchange's recording does not list is served from a synthesized market:
the payloads involving one name them in `synthetic_markets` (absent when there is none).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import dagster as dg

from ..automation import EXTRACT_CONDITION
from ..catalog import OWNERS, layer_tags
from ..partitions import daily_backfill_policy, daily_partitions
from ..resources import ExchangeResource
from ..retry import EXTRACT_RETRY_POLICY
from ..settings import EXCHANGES, SYMBOLS, TIMEFRAME

EXTRACT_GROUP = "extract"
RAW_PREFIX = "raw"

# Fields of ccxt's unified market structure worth keeping; the rest is exchange-specific noise.
MARKET_FIELDS = ("id", "symbol", "base", "quote", "type", "spot", "active", "precision", "limits")


# Metadata fields that describe a fetch, not the data: they differ between two fetches of the
# same data (a range run and its days run one by one).
PROVENANCE_FIELDS = ("fetched_at",)


def fetched_now() -> str:
    """The time of a fetch, as `fetched_at` records it: UTC, ISO 8601, to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def without_provenance(payload: dict[str, Any]) -> dict[str, Any]:
    """An extract payload without its PROVENANCE_FIELDS: what two fetches of the same data share.

    Example::

        without_provenance({"data": [1], "metadata": {"exchange": "binance", "fetched_at": "..."}})
        # {"data": [1], "metadata": {"exchange": "binance"}}
    """
    metadata = {k: v for k, v in payload["metadata"].items() if k not in PROVENANCE_FIELDS}
    return {**payload, "metadata": metadata}


def fetched_metadata(fetched_at: str) -> dg.MetadataValue:
    """`fetched_at` as Dagster metadata: a timestamp the UI shows in local time."""
    return dg.MetadataValue.timestamp(datetime.fromisoformat(fetched_at))


def ohlcv_asset_key(exchange_id: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_PREFIX, f"{exchange_id}_ohlcv"])


def markets_asset_key(exchange_id: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_PREFIX, f"{exchange_id}_markets"])


def partition_days(context: dg.AssetExecutionContext) -> list[tuple[str, datetime, datetime]]:
    """(key, start, end) of every day the run materializes: one, or a backfill's range."""
    windows = {
        key: daily_partitions.time_window_for_partition_key(key) for key in context.partition_keys
    }
    return [(key, window.start, window.end) for key, window in windows.items()]


def per_day(payloads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What a run returns: the day's payload, or `{day: payload}` when it covers several days
    (the IO managers store each under its day)."""
    return next(iter(payloads.values())) if len(payloads) == 1 else payloads


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
        owners=OWNERS,
        tags=layer_tags(EXTRACT_GROUP, exchange=exchange_id),
        retry_policy=retry_policy,
        backfill_policy=daily_backfill_policy(),
        automation_condition=EXTRACT_CONDITION,
        description=f"{timeframe} candles of {', '.join(symbols)} on {exchange_id}, per UTC day.",
    )
    def extract_ohlcv(
        context: dg.AssetExecutionContext, exchange: ExchangeResource
    ) -> dict[str, Any]:
        window = context.partition_time_window
        days = partition_days(context)
        by_symbol = {
            # The whole window in one paginated fetch per symbol: a year costs a few pages.
            symbol: exchange.fetch_ohlcv_range(
                exchange_id, symbol, timeframe, window.start, window.end
            )
            for symbol in symbols
        }
        fetched_at = fetched_now()
        synthetic = [s for s in exchange.synthetic_markets(exchange_id) if s in by_symbol]
        payloads = {}
        for key, start, end in days:
            start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
            data = [
                {
                    "symbol": symbol,
                    "timeframe": timeframe,
                    "ohlcv": [row for row in candles if start_ms <= row[0] < end_ms],
                }
                for symbol, candles in by_symbol.items()
            ]
            candle_counts = {entry["symbol"]: len(entry["ohlcv"]) for entry in data}
            payloads[key] = {
                "data": data,
                "metadata": {
                    "exchange": exchange_id,
                    "timeframe": timeframe,
                    "window_start_ms": start_ms,
                    "window_end_ms": end_ms,
                    "mode": exchange.mode,
                    "candles_per_symbol": candle_counts,
                    "ccxt_version": version("ccxt"),
                    "fetched_at": fetched_at,
                    **({"synthetic_markets": synthetic} if synthetic else {}),
                },
            }
        candle_counts = {symbol: len(candles) for symbol, candles in by_symbol.items()}
        context.add_output_metadata(
            {
                "candles": sum(candle_counts.values()),
                "candles_per_symbol": candle_counts,
                "days": len(days),
                "fetched_at": fetched_metadata(fetched_at),
                **({"synthetic_markets": ", ".join(synthetic)} if synthetic else {}),
            }
        )
        return per_day(payloads)

    @dg.asset(
        key=markets_asset_key(exchange_id),
        partitions_def=daily_partitions,
        io_manager_key="extract_io_manager",
        group_name=EXTRACT_GROUP,
        kinds={"ccxt", "python"},
        owners=OWNERS,
        tags=layer_tags(EXTRACT_GROUP, exchange=exchange_id),
        retry_policy=retry_policy,
        backfill_policy=daily_backfill_policy(),
        automation_condition=EXTRACT_CONDITION,
        description=f"Markets listed on {exchange_id} (symbols, base/quote, precision, active).",
    )
    def extract_markets(
        context: dg.AssetExecutionContext, exchange: ExchangeResource
    ) -> dict[str, Any]:
        # Exchanges list their markets as they are now: every day of a range gets the same list.
        markets = exchange.load_markets(exchange_id)
        synthetic = exchange.synthetic_markets(exchange_id)
        fetched_at = fetched_now()
        data = [
            {field: market.get(field) for field in MARKET_FIELDS}
            for _, market in sorted(markets.items())
        ]
        context.add_output_metadata(
            {
                "markets": len(data),
                "days": len(context.partition_keys),
                "fetched_at": fetched_metadata(fetched_at),
                **({"synthetic_markets": ", ".join(synthetic)} if synthetic else {}),
            }
        )
        payloads = {
            key: {
                "data": data,
                "metadata": {
                    "exchange": exchange_id,
                    "snapshot_day": key,
                    "mode": exchange.mode,
                    "ccxt_version": version("ccxt"),
                    "fetched_at": fetched_at,
                    **({"synthetic_markets": synthetic} if synthetic else {}),
                },
            }
            for key in context.partition_keys
        }
        return per_day(payloads)

    return [extract_ohlcv, extract_markets]


extract_assets: list[dg.AssetsDefinition] = [
    asset for exchange_id in EXCHANGES for asset in build_extract_assets(exchange_id)
]
