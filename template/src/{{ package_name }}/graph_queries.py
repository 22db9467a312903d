"""Questions the market graph answers: parameterized Cypher over daily snapshots.

Every function takes ``run(cypher, parameters) -> polars.DataFrame`` (for example
``GraphQueryResource(db_path="data/graph.kuzu").query``, the resource the graph checks use) and
the snapshot day, or several days at once (the ``*_by_day`` and ``*_on`` functions: one query
for a whole range, as the graph checks of a multi-day run ask). Values are always parameters
(``$day``, ``$days``), never formatted into the query. From the command line:

    uv run python -m <package>.graph_queries --date 2024-03-01 --symbol ETH/BTC --pair BTC ETH
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

QueryRunner = Callable[[str, Mapping[str, Any]], pl.DataFrame]

# An asset counts as listed on an exchange when one of its markets trades it (as base or quote).
ASSETS_ON_EVERY_EXCHANGE = """
MATCH (e:Exchange)-[:LISTS]->(:Market)-[:BASE|QUOTE]->(a:Asset)
WHERE e.snapshot_date IN $days AND e.exchange IN $exchanges
WITH e.snapshot_date AS day, a.code AS asset, count(DISTINCT e.exchange) AS listed_on
WHERE listed_on = $exchange_count
RETURN day, asset
ORDER BY day, asset
"""

# Quote currencies Q with markets A/Q and B/Q on one exchange: a route from A to B through Q.
QUOTES_CONNECTING = """
MATCH (e:Exchange)-[:LISTS]->(m1:Market)-[:BASE]->(a:Asset),
      (m1)-[:QUOTE]->(q:Asset),
      (e)-[:LISTS]->(m2:Market)-[:BASE]->(b:Asset),
      (m2)-[:QUOTE]->(q)
WHERE e.snapshot_date = $day AND a.code = $asset_a AND b.code = $asset_b
RETURN q.code AS quote, list_sort(collect(DISTINCT e.exchange)) AS exchanges
ORDER BY quote
"""

WHERE_SYMBOLS_TRADE = """
MATCH (e:Exchange)-[:LISTS]->(m:Market)
WHERE m.snapshot_date IN $days AND m.symbol IN $symbols
RETURN m.snapshot_date AS day, m.symbol AS symbol, e.exchange AS exchange,
       m.market_id AS market_id, m.active AS active
ORDER BY day, symbol, exchange
"""

# Markets of the days that are not listed by exactly one exchange, or lack a base or a quote.
INCOMPLETE_MARKETS = """
MATCH (m:Market)
WHERE m.snapshot_date IN $days
OPTIONAL MATCH (e:Exchange)-[:LISTS]->(m)
WITH m, count(e) AS listed_by
OPTIONAL MATCH (m)-[:BASE]->(base:Asset)
WITH m, listed_by, count(base) AS bases
OPTIONAL MATCH (m)-[:QUOTE]->(quote:Asset)
WITH m, listed_by, bases, count(quote) AS quotes
WHERE listed_by <> 1 OR bases <> 1 OR quotes <> 1
RETURN m.snapshot_date AS day, m.id AS market, listed_by, bases, quotes
ORDER BY market
"""

COUNTS = """
MATCH (m:Market)
WHERE m.snapshot_date IN $days
RETURN m.snapshot_date AS day, count(m) AS markets
ORDER BY day
"""

SNAPSHOT_DAYS = """
MATCH (e:Exchange)
RETURN DISTINCT e.snapshot_date AS day
ORDER BY day
"""


def assets_on_every_exchange_by_day(
    run: QueryRunner, days: Sequence[date], exchanges: Sequence[str]
) -> dict[date, list[str]]:
    """Per day of ``days``, the currencies traded on every one of ``exchanges`` (one query)."""
    if not exchanges:
        raise ValueError("Name at least one exchange.")
    names = sorted(set(exchanges))
    frame = run(
        ASSETS_ON_EVERY_EXCHANGE,
        {"days": list(days), "exchanges": names, "exchange_count": len(names)},
    )
    found: dict[date, list[str]] = {day: [] for day in days}
    for day, asset in frame.iter_rows():
        found[day].append(asset)
    return found


def assets_on_every_exchange(run: QueryRunner, day: date, exchanges: Sequence[str]) -> list[str]:
    """Currencies traded on every one of ``exchanges`` on ``day``."""
    return assets_on_every_exchange_by_day(run, [day], exchanges)[day]


def quote_currencies_connecting(
    run: QueryRunner, day: date, asset_a: str, asset_b: str
) -> pl.DataFrame:
    """Quote currencies through which ``asset_a`` and ``asset_b`` trade on one exchange.

    Columns: ``quote``, ``exchanges`` (sorted list of the exchanges with both markets).
    """
    return run(QUOTES_CONNECTING, {"day": day, "asset_a": asset_a, "asset_b": asset_b})


def where_symbols_trade(
    run: QueryRunner, days: Sequence[date], symbols: Sequence[str]
) -> pl.DataFrame:
    """Markets of ``symbols`` on ``days``, in one query.

    Columns: ``day, symbol, exchange, market_id, active``.
    """
    return run(WHERE_SYMBOLS_TRADE, {"days": list(days), "symbols": list(symbols)})


def where_symbol_trades(run: QueryRunner, day: date, symbol: str) -> pl.DataFrame:
    """Exchanges listing ``symbol`` (e.g. ``"BTC/USDT"``): ``exchange, market_id, active``."""
    return where_symbols_trade(run, [day], [symbol]).drop("day", "symbol")


def incomplete_markets_on(run: QueryRunner, days: Sequence[date]) -> pl.DataFrame:
    """Markets of ``days`` without exactly one LISTS, one BASE and one QUOTE (should be none).

    Columns: ``day, market, listed_by, bases, quotes``; one query for every day.
    """
    return run(INCOMPLETE_MARKETS, {"days": list(days)})


def incomplete_markets(run: QueryRunner, day: date) -> pl.DataFrame:
    """Markets without exactly one LISTS, one BASE and one QUOTE relationship (should be none)."""
    return incomplete_markets_on(run, [day]).drop("day")


def market_counts(run: QueryRunner, days: Sequence[date]) -> dict[date, int]:
    """Markets per day of ``days`` (0 for a day the graph does not hold), in one query."""
    counts = dict.fromkeys(days, 0)
    counts.update(dict(run(COUNTS, {"days": list(days)}).iter_rows()))
    return counts


def market_count(run: QueryRunner, day: date) -> int:
    return market_counts(run, [day])[day]


def snapshot_days(run: QueryRunner) -> list[date]:
    return run(SNAPSHOT_DAYS, {}).get_column("day").to_list()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ask the market graph a few questions.")
    default_db = Path(os.environ.get("DATA_DIR", "data")) / "graph.kuzu"
    parser.add_argument("--db", default=str(default_db), help=f"graph file (default {default_db})")
    parser.add_argument("--date", type=date.fromisoformat, help="snapshot day (default: latest)")
    parser.add_argument("--symbol", default="BTC/USDT", help="where does this symbol trade?")
    parser.add_argument(
        "--pair", nargs=2, default=["BTC", "ETH"], metavar=("A", "B"), help="assets to connect"
    )
    args = parser.parse_args(argv)

    from .resources.graph import GraphQueryResource
    from .settings import EXCHANGES

    run = GraphQueryResource(db_path=args.db, lock_timeout_seconds=5).query
    days = snapshot_days(run)
    if not days:
        print(f"{args.db} holds no snapshot yet: materialize the graph assets first.")
        return 1
    day = args.date or days[-1]
    print(f"Snapshot {day} of {args.db} ({market_count(run, day)} markets)")
    everywhere = assets_on_every_exchange(run, day, EXCHANGES)
    print(f"Assets on every configured exchange ({', '.join(EXCHANGES)}): {', '.join(everywhere)}")
    asset_a, asset_b = args.pair
    print(f"Quote currencies connecting {asset_a} and {asset_b}:")
    print(quote_currencies_connecting(run, day, asset_a, asset_b))
    print(f"Where {args.symbol} trades:")
    print(where_symbol_trades(run, day, args.symbol))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
