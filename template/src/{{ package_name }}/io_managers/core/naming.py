"""Naming: asset key -> path parts or (schema, table), identifiers and path segments validated."""

from __future__ import annotations

import re
from typing import NamedTuple

from .context import ContextT, asset_label, output_context_of
from .errors import UnsafeNameError
from .metadata import StorageMetadata, storage_metadata

# SQL identifiers we put into statements: letters, digits, underscore, not starting with a digit,
# at most 63 characters (the shortest identifier limit of common SQL engines).
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
IDENTIFIER_RULE = (
    "letters, digits and underscores only, not starting with a digit, at most 63 characters"
)


def validate_path_segment(segment: str, what: str) -> str:
    """Refuse a path segment that could escape its directory or is not a plain name."""
    problem = None
    if not isinstance(segment, str) or not segment:
        problem = "it is empty"
    elif segment in {".", ".."}:
        problem = "it is a relative directory reference"
    elif "/" in segment or "\\" in segment:
        problem = "it contains a path separator"
    elif "\x00" in segment:
        problem = "it contains a NUL character"
    elif any(ord(char) < 32 for char in segment):
        problem = "it contains a control character"
    if problem:
        raise UnsafeNameError(
            f"Refusing {what} {segment!r} as a path segment: {problem}. Use a plain name "
            "without '/', '\\', NUL or control characters that is not '.' or '..'."
        )
    return segment


def validate_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` if it is a safe SQL identifier, else raise :class:`UnsafeNameError`."""
    if not isinstance(name, str) or not IDENTIFIER_PATTERN.fullmatch(name):
        raise UnsafeNameError(
            f"Refusing {what} {name!r}: SQL identifiers must match "
            f"{IDENTIFIER_PATTERN.pattern} ({IDENTIFIER_RULE}). Rename it, or set "
            'metadata={"table": "..."} / {"schema": "..."} to a valid name.'
        )
    return name


def quote_identifier(name: str, what: str = "identifier") -> str:
    """Validate ``name`` and quote it for SQL (double quotes, embedded quotes doubled)."""
    validate_identifier(name, what)
    # The regex already excludes quotes; doubling them keeps the function safe on its own.
    return '"' + name.replace('"', '""') + '"'


class TableName(NamedTuple):
    """A validated (schema, table) pair.

    Example::

        name = TableName("market", "ohlcv")
        name.quoted  # '"market"."ohlcv"', for SQL statements
        name.display("lake")  # "lake.market.ohlcv", for messages
    """

    schema: str
    table: str

    @property
    def quoted(self) -> str:
        """``"schema"."table"`` for SQL statements."""
        return f"{quote_identifier(self.schema, 'schema')}.{quote_identifier(self.table, 'table')}"

    def display(self, catalog: str | None = None) -> str:
        """``[catalog.]schema.table`` for messages and ``dagster/table_name``."""
        return ".".join(p for p in (catalog, self.schema, self.table) if p)


def resolve_table(
    context: ContextT,
    *,
    config_schema: str | None,
    default_schema: str,
    meta: StorageMetadata | None = None,
) -> TableName:
    """Schema and table of an output, with the precedence of Dagster's ``DbIOManager``.

    Schema: asset metadata ``schema``, then the IO manager's ``schema`` config, then the asset key
    prefix (``path[-2]``), then ``default_schema``. Table: metadata ``table``, else the last part of
    the asset key (op outputs: the output name). Both are validated as identifiers.
    """
    meta = meta or storage_metadata(context)
    if context.has_asset_key:
        path = context.asset_key.path
        prefix_schema = path[-2] if len(path) > 1 else None
        table = meta.table or path[-1]
    else:
        output = output_context_of(context)
        prefix_schema = None
        table = meta.table or (output.name if output is not None else context.name)
    schema = meta.schema or config_schema or prefix_schema or default_schema
    return TableName(
        validate_identifier(schema, f"schema name of asset {asset_label(context)}"),
        validate_identifier(table, f"table name of asset {asset_label(context)}"),
    )


def storage_path_parts(context: ContextT, meta: StorageMetadata | None = None) -> tuple[str, ...]:
    """Relative path parts of an output: the asset key, its last part replaced by ``table``.

    Op outputs (no asset key) use ``(run_id, step_key, output_name)`` like Dagster's own managers.
    """
    meta = meta or storage_metadata(context)
    if context.has_asset_key:
        parts = list(context.asset_key.path)
        if meta.table:
            parts[-1] = meta.table
    else:
        output = output_context_of(context)
        parts = list((output or context).get_identifier())
    return tuple(validate_path_segment(p, f"path part of {asset_label(context)}") for p in parts)
