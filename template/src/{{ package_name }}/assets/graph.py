"""Graph assets: the markets of every exchange as a graph, one daily snapshot per partition.

Nodes: ``Exchange``, ``Asset`` (a currency) and ``Market``. Relationships:
``(Exchange)-[:LISTS]->(Market)``, ``(Market)-[:BASE]->(Asset)``, ``(Market)-[:QUOTE]->(Asset)``.
Built from the ``raw/<exchange>_markets`` extracts and stored through ``graph_io_manager``; the
checks (graph_checks.py) ask the stored graph through the graph query resource (key ``graph``).

Every node and relationship carries ``snapshot_date`` (the partition day, the ``partition_expr``)
and node keys start with it, so each day is its own subgraph: re-running a day replaces exactly
that day, and older days stay queryable as history. One multi-asset writes the six tables, nodes
before relationships. A run may cover a range of days (``daily_backfill_policy``): each table
is then one frame covering every day, as the same days run one by one would write them.

The multi-asset is subsettable (``can_subset=True``): it yields only the selected tables and
checks. Dagster's UI and daemon backfills refuse a non-subsettable multi-asset whose outputs
depend on each other (see docs/assets.md, "Backfills of the graph"). A selection that rewrites
node tables must include their relationship tables: a node rewrite detaches the day's
relationships, which would otherwise be lost.
"""

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

import dagster as dg
import polars as pl

from ..automation import DOWNSTREAM_CONDITION
from ..catalog import OWNERS, layer_tags
from ..partitions import daily_backfill_policy, daily_partitions
from ..retry import STORAGE_RETRY_POLICY
from ..settings import EXCHANGES, SYMBOLS
from .extract import markets_asset_key
from .graph_checks import run_graph_checks

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


def combine_market_graphs(graphs: Sequence[MarketGraph]) -> MarketGraph:
    """The graphs of several days as one: per table, the days' frames one after the other.

    Node keys start with the day, so the combined frames are sorted as each day's are.

    Example::

        graph = combine_market_graphs([build_market_graph(p, day) for day, p in days.items()])
        graph.market.get_column(SNAPSHOT_COLUMN).unique().to_list()  # every day of the range
    """
    if not graphs:
        raise ValueError("combine_market_graphs needs the graph of at least one day.")
    if len(graphs) == 1:
        return graphs[0]
    return MarketGraph(*(pl.concat(frames) for frames in zip(*graphs, strict=True)))


def markets_by_day(
    raw_markets: Mapping[str, Any], partition_keys: Sequence[str]
) -> dict[str, dict[str, Mapping[str, Any]]]:
    """The loaded markets extracts per day: ``{day: {exchange id: payload}}``.

    ``raw_markets`` maps each exchange id to its loaded input: the payload itself in a one-day
    run, ``{day: payload}`` in a run of several days (how the file stores load several
    partitions of a dict).

    Example::

        loaded = {"binance": {"2024-01-02": p2, "2024-01-03": p3}}
        markets_by_day(loaded, ["2024-01-02", "2024-01-03"])
        # {"2024-01-02": {"binance": p2}, "2024-01-03": {"binance": p3}}
    """
    if len(partition_keys) == 1:
        return {partition_keys[0]: dict(raw_markets)}
    by_day: dict[str, dict[str, Mapping[str, Any]]] = {key: {} for key in partition_keys}
    for exchange_id, loaded in raw_markets.items():
        missing = [key for key in partition_keys if key not in loaded]
        if missing:
            asset = markets_asset_key(exchange_id).to_user_string()
            raise ValueError(
                f"The markets extract of {exchange_id} ({asset}), loaded for the days "
                f"{partition_keys[0]}...{partition_keys[-1]}, is not a mapping of each day to "
                f"its payload: it lacks {', '.join(missing[:3])}"
                f"{' ...' if len(missing) > 3 else ''}. Its IO manager must load several "
                "partitions of a dict as {day: payload} (as FilesystemIOManager, S3IOManager "
                "and InMemoryIOManager do)."
            )
        for key in partition_keys:
            by_day[key][exchange_id] = loaded[key]
    return by_day


# Rewriting a day of a node table deletes the day's relationships attached to its nodes
# (DETACH DELETE), so a selection that writes a node table writes these relationship tables too.
DETACHED_RELATIONSHIPS: dict[str, tuple[GraphTable, ...]] = {
    node.name: tuple(
        rel
        for rel in GRAPH_TABLES
        if rel.source is not None and node.label in (rel.source, rel.target)
    )
    for node in GRAPH_TABLES
    if node.source is None
}


def check_table_selection(selected: Collection[str]) -> None:
    """Refuse a selection that rewrites node tables without the relationships they detach.

    Example::

        check_table_selection({"lists", "base", "quote"})  # fine: relationships alone
        check_table_selection({"market"})  # dg.Failure naming graph/lists, graph/base, graph/quote
    """
    tables = {table.name: table for table in GRAPH_TABLES}
    missing = sorted(
        {
            rel.key.to_user_string()
            for name in selected
            for rel in DETACHED_RELATIONSHIPS.get(name, ())
            if rel.name not in selected
        }
    )
    if missing:
        nodes = sorted(
            tables[name].key.to_user_string() for name in selected if name in DETACHED_RELATIONSHIPS
        )
        raise dg.Failure(
            allow_retries=False,  # the same selection is refused again: fail at once
            description=(
                f"Rewriting {', '.join(nodes)} deletes the relationships of their nodes on the "
                f"same days, so {', '.join(missing)} must be materialized in the same run. "
                "Select them too (or the whole graph group); relationship tables may be "
                "rewritten without their nodes."
            ),
        )


def build_graph_assets(
    exchanges: Sequence[str] = EXCHANGES,
    symbols: Sequence[str] = SYMBOLS,
    retry_policy: dg.RetryPolicy = STORAGE_RETRY_POLICY,
) -> list[dg.AssetsDefinition]:
    """The market graph of ``exchanges``: one multi-asset writing every node and relationship.

    It is subsettable: it yields the selected tables (in write order) and checks only. A run
    covers one day or a range of days (``daily_backfill_policy``).
    """
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
                owners=OWNERS,
                tags=layer_tags(GRAPH_GROUP),
                automation_condition=DOWNSTREAM_CONDITION,
                # A run yields the selected tables only (can_subset below).
                is_required=False,
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
        # A range of days in one run (or runs of at most BACKFILL_MAX_DAYS_PER_RUN days).
        backfill_policy=daily_backfill_policy(),
        group_name=GRAPH_GROUP,
        check_specs=GRAPH_CHECK_SPECS,
        # Any selection of tables and checks: Dagster's UI and daemon backfills refuse a
        # non-subsettable multi-asset whose outputs depend on each other (docs/assets.md).
        can_subset=True,
        # A graph database file takes one writer process at a time (dagster.yaml sets the limit).
        pool="graph_writer",
        # A failed step runs again (with jitter); a refused table selection never does.
        retry_policy=retry_policy,
        # The checks ask the stored graph: Cypher through the graph query resource.
        required_resource_keys={GRAPH_RESOURCE_KEY},
    )
    def market_graph(
        context: dg.AssetExecutionContext, **raw_markets: Any
    ) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
        selected_keys = context.selected_asset_keys
        selected = {table.name for table in GRAPH_TABLES if table.key in selected_keys}
        check_table_selection(selected)
        partition_keys = context.partition_keys
        payloads = markets_by_day(
            {name.removesuffix("_markets"): loaded for name, loaded in raw_markets.items()},
            partition_keys,
        )
        days = {
            key: daily_partitions.time_window_for_partition_key(key).start.date()
            for key in partition_keys
        }
        graph = combine_market_graphs(
            [build_market_graph(payloads[key], days[key]) for key in partition_keys]
        )
        # Each Output is stored before the next is produced: nodes exist before relationships.
        for name, frame in graph._asdict().items():
            if name in selected:
                yield dg.Output(frame, output_name=name)
        checks = {key.name for key in context.selected_asset_check_keys}
        if checks:
            graph_resource: GraphQueryResource = getattr(context.resources, GRAPH_RESOURCE_KEY)
            yield from run_graph_checks(
                graph_resource.query,
                list(days.values()),
                exchanges,
                symbols,
                asset_key=MARKET.key,
                selected=checks,
            )

    return [market_graph]


graph_assets: list[dg.AssetsDefinition] = build_graph_assets()
