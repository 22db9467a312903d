"""SQL statements shared by table clients: create, partition index, merge of staged rows.

Only validated, quoted identifiers are written into them; values are never part of the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from ..core.naming import quote_identifier
from ..core.partitions import ColumnFilter


def create_table_statement(
    target: str, types: Mapping[str, str], primary_key: Sequence[str]
) -> str:
    """``CREATE TABLE`` with the columns' types and, if given, a PRIMARY KEY (NOT NULL keys)."""
    definitions = [
        f"{quote_identifier(name)} {data_type}{' NOT NULL' if name in primary_key else ''}"
        for name, data_type in types.items()
    ]
    if primary_key:
        # The key of upserts (INSERT ... ON CONFLICT needs a unique constraint on it).
        definitions.append(f"PRIMARY KEY ({', '.join(quote_identifier(c) for c in primary_key)})")
    return f"CREATE TABLE {target} ({', '.join(definitions)})"


def partition_index_statement(target: str, filters: Sequence[ColumnFilter]) -> str | None:
    """An index on the partition columns: each partition write deletes its slice by them.

    ``None`` when every filter is an expression (an index on the columns would not serve it).
    """
    # Named after the table so that it is unique in the schema (PostgreSQL) or file (SQLite).
    name = "partition_idx_" + hashlib.sha256(target.encode()).hexdigest()[:16]
    plain = [f for f in filters if f.expr is None]
    if not plain:
        return None
    columns = ", ".join(quote_identifier(f.column) for f in plain)
    return f"CREATE INDEX {quote_identifier(name)} ON {target} ({columns})"


def merge_statements(
    target: str,
    source: str,
    columns: Sequence[str],
    primary_key: Sequence[str],
    *,
    on_conflict: bool,
    source_filter: str = "",
) -> list[str]:
    """Statements moving staged rows into the table, replacing rows with the same key.

    ``on_conflict``: the table has a unique constraint on the key, so one
    ``INSERT ... ON CONFLICT DO UPDATE`` does it; otherwise matching rows are deleted first.
    """
    names = ", ".join(quote_identifier(c) for c in columns)
    if on_conflict:
        keys = ", ".join(quote_identifier(c) for c in primary_key)
        updates = ", ".join(
            f"{quote_identifier(c)} = excluded.{quote_identifier(c)}"
            for c in columns
            if c not in primary_key
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        # S608: validated, quoted identifiers only.
        return [
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {source}{source_filter} "  # noqa: S608
            f"ON CONFLICT ({keys}) {action}"
        ]
    # No unique constraint on the key (a table made elsewhere): same effect in two steps.
    matches = " AND ".join(
        f"{source}.{quote_identifier(c)} = {target}.{quote_identifier(c)}" for c in primary_key
    )
    return [
        f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {source} WHERE {matches})",  # noqa: S608
        f"INSERT INTO {target} ({names}) SELECT {names} FROM {source}",  # noqa: S608
    ]
