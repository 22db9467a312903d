"""Cypher pieces: identifiers validated and back-quoted, values always parameters."""

from __future__ import annotations

from typing import Any

from ..core.errors import MetadataError
from ..core.naming import validate_identifier
from ..core.partitions import TemporalKind, build_where_clause, temporal_kind_of
from .catalog import StoredTable
from .target import GraphTarget


def quote(name: str) -> str:
    """A validated identifier in backquotes (reserved words like ``limit`` stay usable)."""
    return "`" + validate_identifier(name, "graph identifier") + "`"


def match(stored: StoredTable, target: GraphTarget, *, endpoints: bool = True) -> str:
    """``MATCH`` of the table's rows: ``n`` for nodes, ``r`` (from ``a`` to ``b``) for rels."""
    if stored.kind == "NODE":
        return f"MATCH (n:{quote(stored.name)})"
    assert stored.endpoints is not None
    if not endpoints:
        return f"MATCH ()-[r:{quote(stored.name)}]->()"
    source, destination = (quote(label) for label in stored.endpoints[:2])
    return f"MATCH (a:{source})-[r:{quote(stored.name)}]->(b:{destination})"


def expression(stored: StoredTable, target: GraphTarget, column: str) -> str:
    """The Cypher expression of a frame column: a property, or an endpoint's key."""
    if stored.kind == "REL" and target.rel is not None and stored.endpoints is not None:
        if column == target.rel.from_key:
            return f"a.{quote(stored.endpoints[2])}"
        if column == target.rel.to_key:
            return f"b.{quote(stored.endpoints[3])}"
    return f"{target.variable}.{quote(column)}"


def where(target: GraphTarget, stored: StoredTable) -> tuple[str, dict[str, Any]]:
    """The condition selecting the target's partitions, and its parameters (``$p0``, ...).

    Time windows are rendered by the shared :func:`~..core.partitions.build_where_clause`;
    a list of values is one list parameter (``x IN $p0``: Cypher has no ``IN (?, ?)``).
    """
    params: dict[str, Any] = {}
    clauses = []
    for column_filter in target.filters:
        prop = f"{target.variable}.{quote(column_filter.column)}"
        first = len(params)
        if column_filter.windows is None:
            params[f"p{first}"] = list(column_filter.values or ())
            clauses.append(f"{prop} IN $p{first}")
            continue
        clause, values = build_where_clause(
            [column_filter],
            temporal_kind=lambda column: temporal_kind(stored, column, target.asset),
            placeholder=lambda index, first=first: f"$p{first + index}",
            quote=lambda _column, prop=prop: prop,
        )
        params.update({f"p{first + index}": value for index, value in enumerate(values)})
        clauses.append(clause)
    return (" AND ".join(clauses) or "true"), params


def temporal_kind(stored: StoredTable, column: str, asset: str) -> TemporalKind:
    """``date`` or ``timestamp``: how partition bounds are bound for ``column``."""
    kuzu_type = next((t for c, t in stored.properties.items() if c.lower() == column.lower()), None)
    if kuzu_type is None:
        raise MetadataError(
            f"Asset {asset}: partition_expr column {column!r} is not a property of "
            f"{stored.describe()} (properties: {', '.join(stored.properties)})."
        )
    kind = temporal_kind_of(kuzu_type)
    if kind == "date":
        return "date"
    if kind is not None:
        # Kuzu TIMESTAMP holds UTC instants without a zone: bind naive UTC bounds.
        return "timestamp"
    raise MetadataError(
        f"Asset {asset}: partition_expr column {column!r} has type {kuzu_type}; a time "
        "partition needs a DATE or TIMESTAMP property."
    )
