"""Graph assets: the markets of every exchange as a graph, one daily snapshot per partition.

Nodes: ``Exchange``, ``Asset`` (a currency) and ``Market``. Relationships:
``(Exchange)-[:LISTS]->(Market)``, ``(Market)-[:BASE]->(Asset)``, ``(Market)-[:QUOTE]->(Asset)``.
Built from the ``raw/<exchange>_markets`` extracts and stored through ``graph_io_manager``; the
checks ask the stored graph through the graph query resource (key ``graph``).

Every node and relationship carries ``snapshot_date`` (the partition day, the ``partition_expr``)
and node keys start with it, so each day is its own subgraph: re-running a day replaces exactly
that day, and older days stay queryable as history. One multi-asset writes all six tables, nodes
before relationships, so a day's graph is always rewritten as a whole.
"""

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

import dagster as dg
import polars as pl

from .. import graph_queries
from ..automation import DOWNSTREAM_CONDITION
from ..markdown import markdown_table
from ..partitions import daily_partitions
from ..settings import EXCHANGES, SYMBOLS
from .extract import markets_asset_key

if TYPE_CHECKING:
    from ..resources.graph import GraphQueryResource

GRAPH_GROUP = "graph"
GRAPH_PREFIX = "graph"
SNAPSHOT_COLUMN = "snapshot_date"
KEY_SEPARATOR = "|"
# The resource key of the graph query resource (GraphQueryResource) every environment binds.
GRAPH_RESOURCE_KEY = "graph"

EXCHANGE_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "exchange": pl.String,
        "markets": pl.Int64,
        "active_markets": pl.Int64,
        SNAPSHOT_COLUMN: pl.Date,
    }
)
ASSET_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "code": pl.String,
        "base_markets": pl.Int64,
        "quote_markets": pl.Int64,
        SNAPSHOT_COLUMN: pl.Date,
    }
)
MARKET_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "exchange": pl.String,
        "symbol": pl.String,
        "market_id": pl.String,
        "base": pl.String,
        "quote": pl.String,
        "type": pl.String,
        "spot": pl.Boolean,
        "active": pl.Boolean,
        "price_precision": pl.Float64,
        "amount_precision": pl.Float64,
        "min_amount": pl.Float64,
        "min_cost": pl.Float64,
        SNAPSHOT_COLUMN: pl.Date,
    }
)
RELATIONSHIP_SCHEMA = pl.Schema(
    {"from_id": pl.String, "to_id": pl.String, SNAPSHOT_COLUMN: pl.Date}
)


class GraphTable(NamedTuple):
    """One table of the graph: its output name, label and (for relationships) endpoints.

    Example::

        LISTS = GraphTable("lists", "LISTS", "(Exchange)-[:LISTS]->(Market).", "Exchange", "Market")
        LISTS.key  # AssetKey(["graph", "lists"])
        LISTS.metadata["graph_rel"]  # {"from": "Exchange", "to": "Market"}
    """

    name: str
    label: str
    description: str
    source: str | None = None
    target: str | None = None

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey([GRAPH_PREFIX, self.name])

    @property
    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {"table": self.label, "partition_expr": SNAPSHOT_COLUMN}
        if self.source is None:
            metadata["primary_key"] = "id"
        else:
            metadata["graph_rel"] = {"from": self.source, "to": self.target}
        return metadata


EXCHANGE = GraphTable("exchange", "Exchange", "Exchange nodes: market counts per exchange.")
ASSET = GraphTable("asset", "Asset", "Asset (currency) nodes: every base and quote of the day.")
MARKET = GraphTable("market", "Market", "Market nodes: symbol, base/quote, precision, limits.")
LISTS = GraphTable("lists", "LISTS", "(Exchange)-[:LISTS]->(Market).", "Exchange", "Market")
BASE = GraphTable(
    "base", "BASE", "(Market)-[:BASE]->(Asset): what the market buys.", "Market", "Asset"
)
QUOTE = GraphTable(
    "quote", "QUOTE", "(Market)-[:QUOTE]->(Asset): what it is priced in.", "Market", "Asset"
)
# Output order is write order: relationships need their nodes.
GRAPH_TABLES = (EXCHANGE, ASSET, MARKET, LISTS, BASE, QUOTE)

GRAPH_CHECK_SPECS = [
    dg.AssetCheckSpec(
        "market_graph_integrity",
        asset=MARKET.key,
        description="Every Market of the day has one LISTS from its Exchange, one BASE, one QUOTE.",
    ),
    dg.AssetCheckSpec(
        "configured_symbols_listed",
        asset=MARKET.key,
        description="Every configured symbol trades on every configured exchange (Cypher).",
    ),
]


class MarketGraph(NamedTuple):
    """The frames of one day's graph, in write order (field names are the output names).

    Example::

        graph = build_market_graph({"binance": binance_markets_payload}, date(2024, 1, 2))
        graph.exchange.get_column("id").to_list()  # ["2024-01-02|binance"]
        for name, frame in graph._asdict().items():  # exchange, asset, market, lists, ...
            yield dg.Output(frame, output_name=name)
    """

    exchange: pl.DataFrame
    asset: pl.DataFrame
    market: pl.DataFrame
    lists: pl.DataFrame
    base: pl.DataFrame
    quote: pl.DataFrame


def node_id(day: date, *parts: str) -> str:
    """Node key: the day first, so every day is its own subgraph (``2024-03-01|binance``)."""
    return KEY_SEPARATOR.join([day.isoformat(), *parts])


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _market_row(exchange_id: str, market: Mapping[str, Any], day: date) -> dict[str, Any]:
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    return {
        "id": node_id(day, exchange_id, market["symbol"]),
        "exchange": exchange_id,
        "symbol": market["symbol"],
        "market_id": market.get("id"),
        "base": market.get("base"),
        "quote": market.get("quote"),
        "type": market.get("type"),
        "spot": market.get("spot"),
        "active": market.get("active"),
        "price_precision": _number(precision.get("price")),
        "amount_precision": _number(precision.get("amount")),
        "min_amount": _number((limits.get("amount") or {}).get("min")),
        "min_cost": _number((limits.get("cost") or {}).get("min")),
        SNAPSHOT_COLUMN: day,
    }


def build_market_graph(payloads: Mapping[str, Mapping[str, Any]], day: date) -> MarketGraph:
    """The graph of one day from raw markets payloads (exchange id -> extract payload)."""
    markets = pl.DataFrame(
        [
            _market_row(exchange_id, market, day)
            for exchange_id, payload in payloads.items()
            for market in payload["data"]
        ],
        schema=MARKET_SCHEMA,
    ).sort("id")

    exchanges = (
        pl.DataFrame({"exchange": sorted(payloads)}, schema={"exchange": pl.String})
        .join(
            markets.group_by("exchange").agg(
                markets=pl.len().cast(pl.Int64), active_markets=pl.col("active").sum()
            ),
            on="exchange",
            how="left",
        )
        .with_columns(
            id=pl.concat_str(pl.lit(day.isoformat()), "exchange", separator=KEY_SEPARATOR),
            markets=pl.col("markets").fill_null(0),
            active_markets=pl.col("active_markets").fill_null(0).cast(pl.Int64),
            **{SNAPSHOT_COLUMN: pl.lit(day)},
        )
        .select(EXCHANGE_SCHEMA.names())
        .cast(EXCHANGE_SCHEMA)
    )

    sides = pl.concat(
        [
            markets.select(code=pl.col(side), side=pl.lit(side)).drop_nulls("code")
            for side in ("base", "quote")
        ]
    )
    assets = (
        sides.group_by("code")
        .agg(
            base_markets=(pl.col("side") == "base").sum().cast(pl.Int64),
            quote_markets=(pl.col("side") == "quote").sum().cast(pl.Int64),
        )
        .with_columns(
            id=pl.concat_str(pl.lit(day.isoformat()), "code", separator=KEY_SEPARATOR),
            **{SNAPSHOT_COLUMN: pl.lit(day)},
        )
        .select(ASSET_SCHEMA.names())
        .cast(ASSET_SCHEMA)
        .sort("id")
    )

    def relationship(source: pl.Expr, target: pl.Expr, frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.select(from_id=source, to_id=target, **{SNAPSHOT_COLUMN: pl.col(SNAPSHOT_COLUMN)})
            .drop_nulls(["from_id", "to_id"])
            .cast(RELATIONSHIP_SCHEMA)
            .sort("from_id", "to_id")
        )

    def asset_id(side: str) -> pl.Expr:
        return pl.concat_str(pl.lit(day.isoformat()), side, separator=KEY_SEPARATOR)

    exchange_id = pl.concat_str(pl.lit(day.isoformat()), "exchange", separator=KEY_SEPARATOR)
    return MarketGraph(
        exchange=exchanges,
        asset=assets,
        market=markets,
        lists=relationship(exchange_id, pl.col("id"), markets),
        base=relationship(pl.col("id"), asset_id("base"), markets),
        quote=relationship(pl.col("id"), asset_id("quote"), markets),
    )


def run_graph_checks(
    run: graph_queries.QueryRunner,
    day: date,
    exchanges: Sequence[str],
    symbols: Sequence[str],
) -> Iterator[dg.AssetCheckResult]:
    """Checks answered by the stored graph itself, with parameterized Cypher."""
    incomplete = graph_queries.incomplete_markets(run, day)
    metadata: dict[str, Any] = {
        "markets": graph_queries.market_count(run, day),
        "incomplete_markets": incomplete.height,
        "assets_on_every_exchange": ", ".join(
            graph_queries.assets_on_every_exchange(run, day, exchanges)
        ),
    }
    if incomplete.height:
        metadata["examples"] = dg.MetadataValue.md(markdown_table(incomplete.head(5)))
    yield dg.AssetCheckResult(
        check_name="market_graph_integrity",
        asset_key=MARKET.key,
        passed=incomplete.height == 0,
        metadata=metadata,
    )

    rows = []
    for symbol in symbols:
        trades_on = graph_queries.where_symbol_trades(run, day, symbol).get_column("exchange")
        missing_on = sorted(set(exchanges) - set(trades_on.to_list()))
        rows.append((symbol, ", ".join(trades_on.to_list()), ", ".join(missing_on)))
    listings = pl.DataFrame(
        rows,
        schema={"symbol": pl.String, "exchanges": pl.String, "missing_on": pl.String},
        orient="row",
    )
    missing = listings.filter(pl.col("missing_on") != "")
    yield dg.AssetCheckResult(
        check_name="configured_symbols_listed",
        asset_key=MARKET.key,
        passed=missing.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "symbols_missing_somewhere": missing.height,
            "where_symbols_trade": dg.MetadataValue.md(markdown_table(listings)),
        },
    )


def build_graph_assets(
    exchanges: Sequence[str] = EXCHANGES, symbols: Sequence[str] = SYMBOLS
) -> list[dg.AssetsDefinition]:
    """The market graph of ``exchanges``: one multi-asset writing every node and relationship."""
    markets_keys = {markets_asset_key(exchange_id) for exchange_id in exchanges}
    node_keys = {table.label: table.key for table in GRAPH_TABLES if table.source is None}

    @dg.multi_asset(
        name="market_graph",
        outs={
            table.name: dg.AssetOut(
                key=table.key,
                io_manager_key="graph_io_manager",
                metadata=table.metadata,
                description=table.description,
                kinds={"kuzu", "polars"},
                automation_condition=DOWNSTREAM_CONDITION,
            )
            for table in GRAPH_TABLES
        },
        ins={
            f"{exchange_id}_markets": dg.AssetIn(key=markets_asset_key(exchange_id))
            for exchange_id in exchanges
        },
        internal_asset_deps={
            table.name: markets_keys
            if table.source is None
            else {node_keys[table.source], node_keys[str(table.target)]}
            for table in GRAPH_TABLES
        },
        partitions_def=daily_partitions,
        group_name=GRAPH_GROUP,
        check_specs=GRAPH_CHECK_SPECS,
        # A graph database file takes one writer process at a time (dagster.yaml sets the limit).
        pool="graph_writer",
        # The checks ask the stored graph: Cypher through the graph query resource.
        required_resource_keys={GRAPH_RESOURCE_KEY},
    )
    def market_graph(
        context: dg.AssetExecutionContext, **raw_markets: dict[str, Any]
    ) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
        day = context.partition_time_window.start.date()
        payloads = {name.removesuffix("_markets"): payload for name, payload in raw_markets.items()}
        graph = build_market_graph(payloads, day)
        # Each Output is stored before the next is produced: nodes exist before relationships.
        for name, frame in graph._asdict().items():
            yield dg.Output(frame, output_name=name)
        graph_resource: GraphQueryResource = getattr(context.resources, GRAPH_RESOURCE_KEY)
        yield from run_graph_checks(graph_resource.query, day, exchanges, symbols)

    return [market_graph]


graph_assets: list[dg.AssetsDefinition] = build_graph_assets()
