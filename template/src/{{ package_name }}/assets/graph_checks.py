"""The checks of the market graph, answered by the stored graph itself (parameterized Cypher).

``market_graph_integrity``: every Market of the day has one LISTS from its Exchange, one BASE
and one QUOTE. ``configured_symbols_listed`` (a warning): every configured symbol trades on
every configured exchange. A run of several days gets one result per check covering every
day, from one query per question whatever the number of days.
"""

from collections.abc import Collection, Iterator, Sequence
from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from .. import graph_queries
from ..markdown import markdown_table


def _integrity_result(
    run: graph_queries.QueryRunner,
    days: Sequence[date],
    exchanges: Sequence[str],
    asset_key: dg.AssetKey,
) -> dg.AssetCheckResult:
    markets = graph_queries.market_counts(run, days)
    incomplete = graph_queries.incomplete_markets_on(run, days)
    everywhere = graph_queries.assets_on_every_exchange_by_day(run, days, exchanges)
    metadata: dict[str, Any] = {
        "markets": sum(markets.values()),
        "incomplete_markets": incomplete.height,
    }
    if len(days) == 1:
        metadata["assets_on_every_exchange"] = ", ".join(everywhere[days[0]])
    else:
        incomplete_per_day = dict(incomplete.group_by("day").len().iter_rows())
        per_day = pl.DataFrame(
            [
                (day, markets[day], incomplete_per_day.get(day, 0), ", ".join(everywhere[day]))
                for day in days
            ],
            schema={
                "day": pl.Date,
                "markets": pl.Int64,
                "incomplete_markets": pl.Int64,
                "assets_on_every_exchange": pl.String,
            },
            orient="row",
        )
        metadata["days"] = len(days)
        metadata["per_day"] = dg.MetadataValue.md(markdown_table(per_day))
    if incomplete.height:
        metadata["examples"] = dg.MetadataValue.md(markdown_table(incomplete.drop("day").head(5)))
    return dg.AssetCheckResult(
        check_name="market_graph_integrity",
        asset_key=asset_key,
        passed=incomplete.height == 0,
        metadata=metadata,
    )


def _symbols_result(
    run: graph_queries.QueryRunner,
    days: Sequence[date],
    exchanges: Sequence[str],
    symbols: Sequence[str],
    asset_key: dg.AssetKey,
) -> dg.AssetCheckResult:
    trading = graph_queries.where_symbols_trade(run, days, symbols)
    exchanges_of: dict[tuple[date, str], list[str]] = {}
    for day, symbol, exchange_id in trading.select("day", "symbol", "exchange").iter_rows():
        exchanges_of.setdefault((day, symbol), []).append(exchange_id)
    rows = []
    for day in days:
        for symbol in symbols:
            trades_on = exchanges_of.get((day, symbol), [])
            missing_on = sorted(set(exchanges) - set(trades_on))
            rows.append((day, symbol, ", ".join(trades_on), ", ".join(missing_on)))
    listings = pl.DataFrame(
        rows,
        schema={
            "day": pl.Date,
            "symbol": pl.String,
            "exchanges": pl.String,
            "missing_on": pl.String,
        },
        orient="row",
    )
    if len(days) == 1:
        listings = listings.drop("day")
    missing = listings.filter(pl.col("missing_on") != "")
    return dg.AssetCheckResult(
        check_name="configured_symbols_listed",
        asset_key=asset_key,
        passed=missing.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "symbols_missing_somewhere": missing.height,
            "where_symbols_trade": dg.MetadataValue.md(markdown_table(listings)),
        },
    )


def run_graph_checks(
    run: graph_queries.QueryRunner,
    days: Sequence[date],
    exchanges: Sequence[str],
    symbols: Sequence[str],
    *,
    asset_key: dg.AssetKey,
    selected: Collection[str] = ("market_graph_integrity", "configured_symbols_listed"),
) -> Iterator[dg.AssetCheckResult]:
    """The ``selected`` checks, answered by the stored graph itself with parameterized Cypher.

    One result per check covers every day of ``days`` (a check has one result per run) and
    passes when it passes on every day; each question is one query, whatever the number of
    days. A one-day run's metadata describes that day; a range's adds ``days`` and a row per
    day (``per_day``, or a ``day`` column).

    Example::

        run = GraphQueryResource(db_path="data/graph.kuzu").query
        days = [date(2024, 1, 2), date(2024, 1, 3)]
        market = dg.AssetKey(["graph", "market"])
        for result in run_graph_checks(run, days, ["binance"], ["BTC/USDT"], asset_key=market):
            print(result.check_name, result.passed)
    """
    if not days:
        raise ValueError("run_graph_checks needs at least one day.")
    if "market_graph_integrity" in selected:
        yield _integrity_result(run, days, exchanges, asset_key)
    if "configured_symbols_listed" in selected:
        yield _symbols_result(run, days, exchanges, symbols, asset_key)
