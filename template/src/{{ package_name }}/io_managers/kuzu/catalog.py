"""The catalog: tables as the database has them, their stored schema, and kind checks.

Every table this manager creates carries its frame's polars schema in its comment
(:func:`~..core.frames.encode_frame_schema`), so loads restore dtypes Kuzu types do not carry
(time zones, categoricals, enums) and drift is judged on polars dtypes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from ..core.errors import MetadataError, UnsafeNameError
from ..core.frames import decode_frame_schema
from ..core.naming import validate_identifier
from .engine import GraphConnection
from .target import GRAPH_REL_KEY, GraphRel, GraphTarget, key_column

# Kuzu type names as the engine spells them for a frame (e.g. ``STRUCT(a INT64, b STRING[])``);
# anything else is refused before it reaches a DDL statement.
_TYPE_PATTERN = re.compile(r"[A-Za-z0-9_(), \[\]]+")


@dataclass(frozen=True)
class StoredTable:
    """A table as the database has it.

    Example::

        stored = stored_table(connection, "Market")
        if stored is not None and stored.kind == "NODE":
            print(stored.describe(), stored.columns(None))
    """

    name: str
    kind: Literal["NODE", "REL"]
    properties: dict[str, str]  # name -> Kuzu type, in table order
    primary_key: str | None  # node tables
    endpoints: tuple[str, str, str, str] | None  # rel: from label, to label, from pk, to pk
    written: pl.Schema | None  # the polars schema of the frame that created it

    def columns(self, rel: GraphRel | None) -> list[str]:
        """Frame columns in table order: endpoint keys first for relationships."""
        keys = list(rel.endpoint_columns) if rel is not None and self.kind == "REL" else []
        return [*keys, *self.properties]

    def describe(self) -> str:
        if self.kind == "NODE":
            return f"node table {self.name} (primary key {self.primary_key})"
        assert self.endpoints is not None
        return f"relationship table {self.name} ({self.endpoints[0]} -> {self.endpoints[1]})"


def rows(
    connection: GraphConnection, statement: str, params: Mapping[str, Any] | None = None
) -> list[list[Any]]:
    """Every row of one statement, values bound as parameters."""
    return connection.execute(statement, dict(params or {})).get_all()


def stored_table(connection: GraphConnection, label: str) -> StoredTable | None:
    """The catalog entry of ``label`` (Kuzu names are case-insensitive), or ``None``."""
    tables = rows(connection, "CALL show_tables() RETURN name, type, comment")
    match = next((row for row in tables if row[0].lower() == label.lower()), None)
    if match is None:
        return None
    name, kind, comment = match
    # CALL arguments must be literals; the name comes from the catalog and is validated.
    literal = f"'{validate_identifier(name, 'graph table')}'"
    info = rows(connection, f"CALL table_info({literal}) RETURN *")
    properties = {row[1]: row[2] for row in info}
    written = decode_frame_schema(comment) if comment else None
    if kind == "NODE":
        primary_key = next(row[1] for row in info if row[4] is True)
        return StoredTable(name, "NODE", properties, primary_key, None, written)
    if kind != "REL":
        raise MetadataError(
            f"Graph table {name} is a {kind} table, which this manager does not use."
        )
    connection_rows = rows(connection, f"CALL show_connection({literal}) RETURN *")
    if len(connection_rows) != 1:
        raise MetadataError(
            f"Relationship table {name} connects several node table pairs; this manager stores "
            "relationship tables with one FROM/TO pair."
        )
    from_label, to_label, from_pk, to_pk = connection_rows[0][:4]
    endpoints = (from_label, to_label, from_pk, to_pk)
    return StoredTable(name, "REL", properties, None, endpoints, written)


def referencing_tables(connection: GraphConnection, stored: StoredTable) -> list[str]:
    """Relationship tables whose FROM or TO is the node table ``stored``."""
    if stored.kind != "NODE":
        return []
    referencing = []
    for name, kind in rows(connection, "CALL show_tables() RETURN name, type"):
        if kind != "REL":
            continue
        other = stored_table(connection, name)
        endpoints = other.endpoints[:2] if other is not None and other.endpoints else ()
        if stored.name.lower() in (label.lower() for label in endpoints):
            referencing.append(name)
    return referencing


def frame_types(connection: GraphConnection, frame: pl.DataFrame) -> dict[str, str]:
    """The Kuzu type of each column, as the engine reads the frame."""
    result = connection.execute("LOAD FROM $frame RETURN * LIMIT 0", {"frame": frame.head(0)})
    types = dict(zip(result.get_column_names(), result.get_column_data_types(), strict=True))
    for column, kuzu_type in types.items():
        if not _TYPE_PATTERN.fullmatch(kuzu_type):
            raise UnsafeNameError(f"Unexpected Kuzu type {kuzu_type!r} for column {column!r}.")
    return types


def check_kind(stored: StoredTable, target: GraphTarget) -> None:
    """The stored table is of the kind the asset declares (node or relationship)."""
    if stored.kind != target.kind:
        raise MetadataError(
            f"Asset {target.asset} is a {target.describe()}, but the database holds "
            f"{stored.describe()}. Rename one of them (metadata 'table'), or fix "
            f"{GRAPH_REL_KEY!r}."
        )


def definition_mismatch(stored: StoredTable, target: GraphTarget) -> str | None:
    """How the stored key or endpoints differ from the asset's metadata, or ``None``.

    Kuzu cannot change either in place: only a new table (an unpartitioned overwrite) can.
    """
    if target.rel is not None and stored.endpoints is not None:
        declared = (target.rel.from_label.lower(), target.rel.to_label.lower())
        actual = (stored.endpoints[0].lower(), stored.endpoints[1].lower())
        if declared != actual:
            return (
                f"Asset {target.asset} declares {target.describe()}, but the database holds "
                f"{stored.describe()}."
            )
    primary_key = list(target.meta.primary_key)
    declared_key = key_column(primary_key) if primary_key else None
    if (
        target.rel is None
        and declared_key is not None
        and declared_key.lower() != (stored.primary_key or "").lower()
    ):
        declared = repr(declared_key) if len(primary_key) == 1 else f"{primary_key}"
        return (
            f"Asset {target.asset}: metadata primary_key is {declared}, but "
            f"{stored.describe()} is keyed by {stored.primary_key!r}. Kuzu cannot change a "
            "primary key in place: overwrite the whole table (an unpartitioned overwrite "
            "replaces it), or drop it (DROP TABLE) to let the next write recreate it."
        )
    return None
