"""Writes: one transaction of DDL, deletes and bulk loads (``COPY`` / ``LOAD FROM ... MERGE``).

Write modes, as on every table store (see docs/io-managers.md):

- overwrite of partitions (one day, or every day of a range): delete their rows in one
  statement, then ``COPY``;
- overwrite without partitions: the frame defines the table: drop it and create it from the
  frame, then ``COPY`` (much cheaper than deleting every row in place). Kuzu cannot drop a node
  table that relationship tables reference: such a table keeps its definition and loses its
  rows, and a change of its schema (columns, dtypes, node key) is refused with the fix;
- append: ``COPY``; upsert: ``MERGE`` on the node key, or delete the matching relationships and
  ``COPY`` them.

Node deletes are ``DETACH DELETE``: a graph keeps no relationship to a deleted node.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import polars as pl

from ..core.errors import IOManagerError, MetadataError, MissingDataError, SchemaDriftError
from ..core.frames import check_no_drift, encode_frame_schema
from .catalog import (
    StoredTable,
    check_kind,
    definition_mismatch,
    frame_types,
    referencing_tables,
    rows,
    stored_table,
)
from .cypher import expression, match, quote, where
from .engine import GraphConnection
from .target import (
    COMPOSITE_KEY_COLUMN,
    GraphTarget,
    composite_key,
    node_key,
    with_composite_key,
)

# encode_frame_schema output: a prefix and base64, safe inside a quoted Cypher literal.
_COMMENT_PATTERN = re.compile(r"[A-Za-z0-9+/=:_-]*")


class GraphWriteError(IOManagerError, RuntimeError):
    """Kuzu refused a load; the transaction was rolled back and the previous graph is intact.

    Example::

        try:
            manager.handle_output(context, frame)
        except GraphWriteError as error:
            context.log.error(str(error))  # names the table, the cause and the usual fix
    """


@contextmanager
def transaction(connection: GraphConnection) -> Iterator[None]:
    """``BEGIN TRANSACTION`` ... ``COMMIT``; ``ROLLBACK`` on any error."""
    connection.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        # Kuzu rolls a transaction back itself when one of its statements fails.
        with suppress(RuntimeError):
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def write_frame(
    connection: GraphConnection,
    target: GraphTarget,
    frame: pl.DataFrame,
    *,
    private_copy: bool = False,
) -> tuple[int, StoredTable]:
    """Write in one transaction; return the rows of the slice after the write, and the table.

    ``private_copy``: the connection is to a private copy of the database, discarded if the
    write fails (:func:`~.swap.connect_to_copy`); a table being replaced is then dropped in a
    transaction of its own and checkpointed first, so its pages hold the new rows instead of
    growing the file (one transaction would keep both versions: a file twice the size, to copy
    on every later write).
    """
    # A primary key of several columns is stored as one derived key column (the node key).
    frame = with_composite_key(frame, target)
    with transaction(connection):
        try:
            return _write(connection, target, frame, private_copy=private_copy)
        except IOManagerError:
            raise
        except RuntimeError as error:
            raise GraphWriteError(_write_error_message(target, error)) from error


def _write(
    connection: GraphConnection, target: GraphTarget, frame: pl.DataFrame, *, private_copy: bool
) -> tuple[int, StoredTable]:
    meta = target.meta
    stored = stored_table(connection, target.label)
    replace_table = meta.write_mode == "overwrite" and not target.filters
    if stored is not None:
        check_kind(stored, target)
        mismatch = definition_mismatch(stored, target) or _composite_key_mismatch(
            connection, stored, target
        )
        drift = _drift(connection, stored, target, frame) if mismatch is None else None
        if replace_table and (
            mismatch is not None or drift is not None or not referencing_tables(connection, stored)
        ):
            # The frame defines the table. A new table costs far less than deleting every
            # row in place (the delete, a COPY among deleted rows and their commit), and
            # holds exactly what a first write would.
            _drop_table(connection, stored, target)
            stored = None
            if private_copy:
                # Free the dropped table's pages for the COPY below; a failure from here on
                # discards the copy, so the live database is untouched either way.
                connection.execute("COMMIT")
                connection.execute("CHECKPOINT")
                connection.execute("BEGIN TRANSACTION")
        elif mismatch is not None:
            raise MetadataError(mismatch)
        elif drift is not None:
            raise drift
    if stored is None:
        stored = _create_table(connection, target, frame)
    elif meta.write_mode == "overwrite":
        # Every day (partition) of the output in one statement; a table that other tables
        # reference keeps its definition and loses its rows.
        delete_slice(connection, stored, target)

    ordered = frame.select(stored.columns(target.rel))
    if meta.write_mode == "upsert" and stored.kind == "NODE":
        _merge_nodes(connection, stored, ordered)
    else:
        if meta.write_mode == "upsert":
            _delete_matching_relationships(connection, stored, target, frame)
        # COPY matches columns by position: `ordered` is in table order (endpoint keys first).
        connection.execute(f"COPY {quote(stored.name)} FROM $frame", {"frame": ordered})

    if meta.write_mode == "overwrite":
        # The slice was emptied and every row of the frame is inside it (checked before).
        return frame.height, stored
    condition, params = where(target, stored)
    count = rows(
        connection,
        f"{match(stored, target, endpoints=False)} WHERE {condition} RETURN count(*)",
        params,
    )
    return int(count[0][0]), stored


def _create_table(
    connection: GraphConnection, target: GraphTarget, frame: pl.DataFrame
) -> StoredTable:
    label = quote(target.label)
    incoming = frame_types(connection, frame)
    if target.rel is None:
        key = node_key(target)
        columns = ", ".join(f"{quote(c)} {incoming[c]}" for c in frame.columns)
        connection.execute(f"CREATE NODE TABLE {label}({columns}, PRIMARY KEY({quote(key)}))")
    else:
        rel = target.rel
        for endpoint in (rel.from_label, rel.to_label):
            found = stored_table(connection, endpoint)
            if found is None or found.kind != "NODE":
                raise MissingDataError(
                    f"Asset {target.asset}: {target.describe()} needs node table {endpoint}, "
                    "which does not exist yet. Materialize the node assets first (in the same "
                    "run, before this one)."
                )
        properties = "".join(
            f", {quote(c)} {incoming[c]}" for c in frame.columns if c not in rel.endpoint_columns
        )
        connection.execute(
            f"CREATE REL TABLE {label}(FROM {quote(rel.from_label)} "
            f"TO {quote(rel.to_label)}{properties})"
        )
    # The comment keeps the polars dtypes that Kuzu types do not carry (time zones,
    # categoricals, enums) so loads restore them. It is base64: no quote can end the literal.
    comment = encode_frame_schema(frame.schema)
    if not _COMMENT_PATTERN.fullmatch(comment):
        raise IOManagerError(f"Unexpected characters in the encoded schema {comment!r}.")
    connection.execute(f"COMMENT ON TABLE {label} IS '{comment}'")
    stored = stored_table(connection, target.label)
    assert stored is not None
    return stored


def _composite_key_mismatch(
    connection: GraphConnection, stored: StoredTable, target: GraphTarget
) -> str | None:
    """How the columns of a stored composite key differ from ``primary_key``, or ``None``.

    Each derived key value names its columns (a JSON object), so one stored node tells.
    """
    declared = composite_key(target)
    if declared is None or stored.kind != "NODE":
        return None
    found = rows(
        connection,
        f"{match(stored, target)} RETURN n.{quote(COMPOSITE_KEY_COLUMN)} LIMIT 1",
    )
    if not found:
        return None
    try:
        value = json.loads(found[0][0])
    except (TypeError, ValueError):
        value = None
    columns = list(value) if isinstance(value, dict) else None
    if columns == list(declared):
        return None
    return (
        f"Asset {target.asset}: metadata primary_key is {list(declared)}, but the "
        f"{COMPOSITE_KEY_COLUMN!r} values of {stored.describe()} were derived from "
        f"{columns if columns is not None else 'other values'}. Kuzu cannot change a primary "
        "key in place: overwrite the whole table (an unpartitioned overwrite replaces it), or "
        "drop it (DROP TABLE) to let the next write recreate it."
    )


def _drift(
    connection: GraphConnection, stored: StoredTable, target: GraphTarget, frame: pl.DataFrame
) -> SchemaDriftError | None:
    where_stored = stored.describe()
    try:
        if stored.written is not None and set(stored.written) == set(stored.columns(target.rel)):
            check_no_drift(stored.written, frame.schema, asset=target.asset, where=where_stored)
        else:
            # Table made outside this manager (or altered since): compare Kuzu types.
            endpoint_columns = target.rel.endpoint_columns if target.rel is not None else ()
            incoming = frame_types(connection, frame)
            properties = {c: t for c, t in incoming.items() if c not in endpoint_columns}
            check_no_drift(
                stored.properties,
                properties,
                asset=target.asset,
                where=where_stored,
                compatible=operator.eq,
            )
    except SchemaDriftError as error:
        return error
    return None


def delete_slice(connection: GraphConnection, stored: StoredTable, target: GraphTarget) -> None:
    """Delete the rows of the target's partitions (nodes with their relationships)."""
    condition, params = where(target, stored)
    detach = "DETACH " if stored.kind == "NODE" else ""
    connection.execute(
        f"{match(stored, target, endpoints=False)} WHERE {condition} "
        f"{detach}DELETE {target.variable}",
        params,
    )


def _drop_table(connection: GraphConnection, stored: StoredTable, target: GraphTarget) -> None:
    """Drop a table for an unpartitioned overwrite to recreate it from the frame."""
    referencing = referencing_tables(connection, stored)
    if referencing:
        raise SchemaDriftError(
            f"Asset {target.asset}: the frame's columns or key differ from "
            f"{stored.describe()}, and the table cannot be replaced while relationship "
            f"table(s) {', '.join(referencing)} reference it. Return the stored columns, or "
            f"drop those relationship tables first (DROP TABLE {referencing[0]})."
        )
    connection.execute(f"DROP TABLE {quote(stored.name)}")


def _merge_nodes(connection: GraphConnection, stored: StoredTable, ordered: pl.DataFrame) -> None:
    """Upsert nodes in one statement: MERGE on the key, SET every other property."""
    assert stored.primary_key is not None
    aliases = {column: f"v{i}" for i, column in enumerate(ordered.columns)}
    projection = ", ".join(f"{quote(c)} AS {alias}" for c, alias in aliases.items())
    key_column = next(c for c in ordered.columns if c.lower() == stored.primary_key.lower())
    assignments = ", ".join(
        f"n.{quote(c)} = {alias}" for c, alias in aliases.items() if c != key_column
    )
    statement = (
        f"LOAD FROM $frame WITH {projection} "
        f"MERGE (n:{quote(stored.name)} {{{quote(stored.primary_key)}: {aliases[key_column]}}})"
    )
    if assignments:
        statement += f" ON MATCH SET {assignments} ON CREATE SET {assignments}"
    connection.execute(statement, {"frame": ordered})


def _delete_matching_relationships(
    connection: GraphConnection, stored: StoredTable, target: GraphTarget, frame: pl.DataFrame
) -> None:
    """Upsert of relationships: delete those whose key matches a row, then COPY the frame."""
    assert target.rel is not None
    keys = frame.select(target.meta.primary_key)
    aliases = {column: f"k{i}" for i, column in enumerate(keys.columns)}
    projection = ", ".join(f"{quote(c)} AS {alias}" for c, alias in aliases.items())
    conditions = " AND ".join(
        f"{expression(stored, target, column)} = {alias}" for column, alias in aliases.items()
    )
    connection.execute(
        f"LOAD FROM $keys WITH {projection} {match(stored, target)} WHERE {conditions} DELETE r",
        {"keys": keys},
    )


def _write_error_message(target: GraphTarget, error: RuntimeError) -> str:
    text = str(error)
    hint = ""
    if "duplicated primary key" in text:
        hint = (
            " A node with this key already exists outside the partition(s) being written: "
            "include the partition in the key, or use write_mode 'upsert'."
        )
    elif "Unable to find primary key" in text:
        hint = (
            " A relationship points at a node that does not exist: write the node assets "
            "first, and check the graph_rel from_key/to_key columns."
        )
    return (
        f"Asset {target.asset}: Kuzu refused the write to {target.describe()}; the transaction "
        f"was rolled back and the previous graph is unchanged. {text}.{hint}"
    )
