"""What an output or input of the graph asks for, and the frames Kuzu would refuse.

:class:`GraphTarget` is resolved from the asset's metadata (label, ``graph_rel``, partitions)
and every frame is validated against it before a connection is opened: identifiers, reserved
and case-colliding property names, keys (the shared :func:`~..core.frames.check_primary_key`),
dtypes and values Kuzu 0.11.3 would store inexactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from dagster import MetadataValue

from ..core.context import ContextT, asset_label, output_context_of
from ..core.errors import MetadataError, UnsafeNameError, UnsupportedTypeError
from ..core.frames import check_primary_key
from ..core.metadata import StorageMetadata, storage_metadata
from ..core.naming import validate_identifier
from ..core.partitions import ColumnFilter, partition_selection, table_filters
from ..core.payloads import RefusedDtypes
from .days import TimeDimension, partition_spans

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

# Asset metadata key that makes an asset a relationship table (see docs/io-manager-kuzu.md).
GRAPH_REL_KEY = "graph_rel"
DEFAULT_FROM_KEY = "from_id"
DEFAULT_TO_KEY = "to_id"
_GRAPH_REL_FIELDS = ("from", "to", "from_key", "to_key")

# The key column of a node table whose primary_key has several columns: derived from them on
# write (STRING, see with_composite_key), dropped again on load.
COMPOSITE_KEY_COLUMN = "_key"

# Property names the engine keeps for itself.
RESERVED_PROPERTIES = frozenset({"_id", "_label", "_src", "_dst"})

# polars dtypes Kuzu cannot store and give back exactly, refused before anything is written.
REFUSED_DTYPES = RefusedDtypes(
    {
        pl.Time: "cast it to Int64 (e.g. pl.col(...).cast(pl.Duration).dt.total_microseconds())",
        pl.Int128: "cast it to Int64, or to pl.Decimal(38, 0)",
        pl.UInt128: "cast it to UInt64, or to pl.Decimal(38, 0)",
        pl.Float16: "cast it to Float32",
    },
    alternative="store it with FilesystemIOManager or S3IOManager (Parquet)",
)
_INT_MINIMUMS: dict[Any, int] = {
    pl.Int8: -(2**7),
    pl.Int16: -(2**15),
    pl.Int32: -(2**31),
    pl.Int64: -(2**63),
}


@dataclass(frozen=True)
class GraphRel:
    """``graph_rel`` metadata: the asset is a relationship table ``from -> to``.

    ``from_key`` and ``to_key`` name the frame columns holding the primary key values of the
    source and target nodes; the other columns are properties of the relationship.

    Example::

        rel = GraphRel.parse({"graph_rel": {"from": "Exchange", "to": "Market"}}, asset="lists")
        assert rel is not None and rel.endpoint_columns == ("from_id", "to_id")
    """

    from_label: str
    to_label: str
    from_key: str = DEFAULT_FROM_KEY
    to_key: str = DEFAULT_TO_KEY

    @property
    def endpoint_columns(self) -> tuple[str, str]:
        return (self.from_key, self.to_key)

    @classmethod
    def parse(cls, metadata: Mapping[str, Any] | None, *, asset: str) -> GraphRel | None:
        value = (metadata or {}).get(GRAPH_REL_KEY)
        if isinstance(value, MetadataValue):
            value = value.value
        if value is None:
            return None
        example = (
            f'{{"{GRAPH_REL_KEY}": {{"from": "Exchange", "to": "Market", '
            f'"from_key": "{DEFAULT_FROM_KEY}", "to_key": "{DEFAULT_TO_KEY}"}}}}'
        )
        if not isinstance(value, Mapping):
            raise MetadataError(
                f"Asset {asset}: metadata {GRAPH_REL_KEY!r} must be a dict like {example}; "
                f"got {value!r}."
            )
        unknown = sorted(set(value) - set(_GRAPH_REL_FIELDS))
        missing = [field for field in ("from", "to") if not value.get(field)]
        if unknown or missing:
            problem = (
                f"unknown key(s) {', '.join(map(str, unknown))}"
                if unknown
                else f"missing {', '.join(missing)}"
            )
            raise MetadataError(
                f"Asset {asset}: metadata {GRAPH_REL_KEY!r} has {problem}; expected {example} "
                "(from_key and to_key are optional)."
            )
        rel = cls(
            from_label=validate_identifier(value["from"], f"graph_rel 'from' label of {asset}"),
            to_label=validate_identifier(value["to"], f"graph_rel 'to' label of {asset}"),
            from_key=validate_identifier(
                value.get("from_key", DEFAULT_FROM_KEY), f"graph_rel from_key of {asset}"
            ),
            to_key=validate_identifier(
                value.get("to_key", DEFAULT_TO_KEY), f"graph_rel to_key of {asset}"
            ),
        )
        if rel.from_key.lower() == rel.to_key.lower():
            raise MetadataError(
                f"Asset {asset}: graph_rel from_key and to_key must be two different columns; "
                f"both are {rel.from_key!r}."
            )
        return rel


@dataclass(frozen=True)
class GraphTarget:
    """The table an output or input maps to, validated before the database is touched.

    Example::

        target = graph_target(context)  # an OutputContext or InputContext
        validate_frame(frame, target)
        print(target.describe())  # "node table Market" or "relationship table LISTS (...)"
    """

    asset: str
    label: str
    meta: StorageMetadata
    rel: GraphRel | None
    filters: tuple[ColumnFilter, ...]
    partitioned: bool
    # Filter column -> the keys (days) of that time dimension this output writes, in order.
    time_dimensions: Mapping[str, TimeDimension] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["NODE", "REL"]:
        return "NODE" if self.rel is None else "REL"

    @property
    def variable(self) -> str:
        """The Cypher variable of this table's rows in the statements below."""
        return "n" if self.rel is None else "r"

    def describe(self) -> str:
        if self.rel is None:
            return f"node table {self.label}"
        return f"relationship table {self.label} ({self.rel.from_label} -> {self.rel.to_label})"


def graph_target(context: ContextT) -> GraphTarget:
    asset = asset_label(context)
    meta = storage_metadata(context)
    output = output_context_of(context)
    rel = GraphRel.parse(output.definition_metadata if output is not None else None, asset=asset)
    if meta.table:
        label = meta.table
    elif context.has_asset_key:
        label = context.asset_key.path[-1]
    else:
        label = output.name if output is not None else context.name
    label = validate_identifier(label, f"graph table (label) of asset {asset}")
    selection = partition_selection(context)
    if selection is None:
        return GraphTarget(asset, label, meta, rel, (), partitioned=False)
    filters = table_filters(selection, meta, asset=asset)
    spans = partition_spans(context, selection, filters)
    return GraphTarget(asset, label, meta, rel, filters, partitioned=True, time_dimensions=spans)


def node_key(target: GraphTarget) -> str:
    """The key column of a node table: metadata ``primary_key``, or :data:`COMPOSITE_KEY_COLUMN`.

    A key of several columns is stored as one derived column (see :func:`with_composite_key`).
    """
    key = target.meta.primary_key
    if not key:
        raise MetadataError(
            f"Asset {target.asset}: a Kuzu node table needs a primary key; add "
            '@asset(metadata={"primary_key": "<column>"}) (or a list of columns), or declare '
            f'{{"{GRAPH_REL_KEY}": {{"from": ..., "to": ...}}}} to store relationships.'
        )
    return key_column(key)


def key_column(primary_key: Sequence[str]) -> str:
    """The node table's key column for ``primary_key``: itself, or the derived composite key."""
    return primary_key[0] if len(primary_key) == 1 else COMPOSITE_KEY_COLUMN


def composite_key(target: GraphTarget) -> tuple[str, ...] | None:
    """The columns of a node table's composite key (two or more), or ``None``."""
    key = tuple(target.meta.primary_key)
    return key if target.rel is None and len(key) > 1 else None


def with_composite_key(frame: pl.DataFrame, target: GraphTarget) -> pl.DataFrame:
    """The frame to store: with the derived key column first, if the key has several columns.

    The value is a JSON object of the key columns' values as text, in ``primary_key`` order:
    ``{"exchange":"binance","symbol":"BTC/USDT","ts":"2024-03-01T00:00:00.000000000Z"}``.
    Texts: strings as they are; integers, booleans and decimals in their usual notation; dates
    ``YYYY-MM-DD``; datetimes ISO 8601 with nanoseconds, time-zone aware ones in UTC with a
    ``Z``. The same key values always give the same text (what upserts match on).
    """
    key = composite_key(target)
    if key is None:
        return frame
    texts = [_key_text(frame.get_column(column)) for column in key]
    derived = pl.select(pl.struct(texts).struct.json_encode().alias(COMPOSITE_KEY_COLUMN))
    return frame.select(derived.to_series(), *frame.columns)


def _key_text(column: pl.Series) -> pl.Series:
    dtype = column.dtype
    if dtype == pl.Date:
        return column.dt.to_string("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return column.dt.to_string("%Y-%m-%dT%H:%M:%S%.9f")
        return column.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.9fZ")
    return column.cast(pl.String)


def _check_composite_key(frame: pl.DataFrame, target: GraphTarget, key: Sequence[str]) -> None:
    """The derived key column's name is free, and every key column has a dtype it can hold."""
    asset = target.asset
    if any(column.lower() == COMPOSITE_KEY_COLUMN for column in frame.columns):
        raise UnsafeNameError(
            f"Asset {asset}: column {COMPOSITE_KEY_COLUMN!r} is the key column KuzuDBIOManager "
            f"derives from a primary key of several columns ({list(key)}); rename the column."
        )
    for column in key:
        dtype = frame.schema.get(column)
        if dtype is None or _composite_key_dtype(dtype):
            continue
        raise UnsupportedTypeError(
            f"Asset {asset}: primary_key column {column!r} has dtype {dtype}, which a Kuzu "
            f"composite key cannot hold (key columns are stored as text in "
            f"{COMPOSITE_KEY_COLUMN!r}: strings, integers, booleans, decimals, dates and "
            "datetimes). Key on columns of those types, or derive one (e.g. "
            f'pl.col("{column}").round(8).cast(pl.String)).'
        )


def _composite_key_dtype(dtype: PolarsDataType) -> bool:
    return (
        dtype.is_integer()
        or isinstance(dtype, pl.Decimal | pl.Datetime | pl.Categorical | pl.Enum)
        or dtype in (pl.String, pl.Boolean, pl.Date)
    )


def validate_frame(frame: pl.DataFrame, target: GraphTarget) -> None:
    """Refuse what Kuzu would refuse, or misread, before a connection is opened."""
    asset = target.asset
    if not frame.columns:
        raise MetadataError(f"Asset {asset}: the frame has no columns; nothing to store.")
    seen: dict[str, str] = {}
    for column in frame.columns:
        validate_identifier(column, f"property (column) of asset {asset}")
        if column.lower() in RESERVED_PROPERTIES:
            raise UnsafeNameError(
                f"Asset {asset}: column {column!r} is reserved by Kuzu "
                f"({', '.join(sorted(RESERVED_PROPERTIES))}); rename it."
            )
        # Kuzu property names are case-insensitive: "Price" and "price" would collide.
        if column.lower() in seen:
            raise UnsafeNameError(
                f"Asset {asset}: columns {seen[column.lower()]!r} and {column!r} differ only in "
                "case; Kuzu property names are case-insensitive. Rename one."
            )
        seen[column.lower()] = column
        _validate_nested_names(frame.schema[column], asset, column)
        null_struct = _null_struct_path(frame.get_column(column), column)
        if null_struct is not None:
            raise UnsupportedTypeError(
                f"Asset {asset}: {null_struct} holds null struct values. Kuzu 0.11.3 stores them "
                "but cannot return them (its Arrow export of a null STRUCT is malformed), so the "
                "data could not be loaded back. Fill them with a struct of nulls, or unnest the "
                "struct into columns (frame.unnest(...))."
            )
    for column_filter in target.filters:
        if column_filter.column not in frame.columns:
            raise MetadataError(
                f"Asset {asset}: 'partition_expr' names column {column_filter.column!r}, which "
                f"the frame does not have (columns: {', '.join(frame.columns)})."
            )

    if target.rel is None:
        node_key(target)
        key = list(target.meta.primary_key)
        named = repr(key[0]) if len(key) == 1 else str(key)
        # Even on overwrite and append: a node table holds one node per key.
        check_primary_key(
            frame,
            key,
            asset=asset,
            unique_because=f"node table {target.label} needs one row per primary key {named}",
        )
        if len(key) > 1:
            _check_composite_key(frame, target, key)
        return

    rel = target.rel
    # Endpoint keys must be set; a relationship may repeat (several edges between two nodes).
    check_primary_key(
        frame, list(rel.endpoint_columns), asset=asset, what="graph_rel key", unique_because=None
    )
    if not [c for c in frame.columns if c not in rel.endpoint_columns] and target.filters:
        raise MetadataError(
            f"Asset {asset}: a partitioned relationship table needs its partition_expr column "
            "as a property of the relationship."
        )
    for column_filter in target.filters:
        if column_filter.column in rel.endpoint_columns:
            raise MetadataError(
                f"Asset {asset}: partition_expr {column_filter.column!r} is an endpoint key of "
                "the relationship; partition on a property of the relationship instead (e.g. "
                "a snapshot_date column)."
            )
    if target.meta.write_mode == "upsert":
        missing = [c for c in rel.endpoint_columns if c not in target.meta.primary_key]
        if missing:
            raise MetadataError(
                f"Asset {asset}: an upsert of relationships is keyed by both endpoints; add "
                f"{', '.join(missing)} to primary_key (e.g. "
                f'{{"primary_key": ["{rel.from_key}", "{rel.to_key}"]}}).'
            )
        check_primary_key(frame, target.meta.primary_key, asset=asset)


def check_kuzu_values(frame: pl.DataFrame, *, asset: str) -> None:
    """Refuse values Kuzu 0.11.3 changes silently on a bulk load (checked on this version)."""
    for name, dtype in frame.schema.items():
        column = frame.get_column(name)
        problem = fix = None
        if dtype in (pl.Float32, pl.Float64) and column.is_nan().any():
            # A float column with NaN and nulls comes back with later values turned into NaN.
            problem, fix = "NaN", "replace NaN with null first: pl.col(...).fill_nan(None)"
        elif dtype in _INT_MINIMUMS and column.min() == _INT_MINIMUMS[dtype]:
            # The minimum of a signed integer type may be loaded as 0 (INT32: depending on the
            # other values of the column).
            problem = f"the value {_INT_MINIMUMS[dtype]} (the minimum of {dtype})"
            fix = "cast the column to a wider type (e.g. pl.Decimal(38, 0))"
        elif isinstance(dtype, pl.Decimal) and (dtype.precision or 38) <= 18 and (column < 0).any():
            # Negative decimals of precision <= 18 are loaded as large positive numbers.
            problem = f"negative values in {dtype}"
            fix = f"cast it to pl.Decimal(38, {dtype.scale})"
        if problem is not None:
            raise UnsupportedTypeError(
                f"KuzuDBIOManager cannot store column {name!r} of asset {asset}: Kuzu 0.11.3 does "
                f"not load {problem} exactly. Before returning the frame, {fix}."
            )


def _contains_struct(dtype: PolarsDataType) -> bool:
    if isinstance(dtype, pl.Struct):
        return True
    return isinstance(dtype, pl.List | pl.Array) and _contains_struct(dtype.inner)


def _null_struct_path(series: pl.Series, path: str) -> str | None:
    """Where ``series`` holds a null struct value (at any depth), or ``None``."""
    dtype = series.dtype
    if not _contains_struct(dtype):
        return None
    if isinstance(dtype, pl.Struct):
        if series.null_count():
            return path
        for field in dtype.fields:
            found = _null_struct_path(series.struct.field(field.name), f"{path}.{field.name}")
            if found is not None:
                return found
        return None
    lists = series.drop_nulls()
    if isinstance(dtype, pl.Array):
        lists = lists.cast(pl.List(dtype.inner))
    # Empty lists would explode into nulls that are not null structs: leave them out.
    elements = lists.filter(lists.list.len() > 0).list.explode()
    return _null_struct_path(elements, f"{path}[]")


def _validate_nested_names(dtype: PolarsDataType, asset: str, path: str) -> None:
    """Struct field names end up in DDL type strings, so they follow the identifier rule too."""
    if isinstance(dtype, pl.Struct):
        for field in dtype.fields:
            validate_identifier(field.name, f"struct field of column {path} of asset {asset}")
            _validate_nested_names(field.dtype, asset, f"{path}.{field.name}")
    elif isinstance(dtype, pl.List | pl.Array):
        _validate_nested_names(dtype.inner, asset, path)
