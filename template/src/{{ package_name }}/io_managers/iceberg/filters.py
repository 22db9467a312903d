"""Partition filters as Iceberg row filters, and the partition spec of a new table.

A time dimension becomes ``start <= column < end`` per window (values, never text) and a day
partition field on the column; a static or dynamic dimension becomes ``column IN (keys)`` and an
identity partition field. Iceberg then finds a partition's files from the manifests alone, and a
partition overwrite drops whole files.

Example::

    expression = row_filter(filters, kind_of)  # And(GreaterThanOrEqual("ts", ...), ...)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..core.partitions import ColumnFilter, TemporalKind, window_bounds

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Transaction


def _bound(value: Any) -> str:
    # Iceberg binds ISO text to the column's type (date, timestamp, timestamptz) exactly.
    return value.isoformat()


def row_filter(
    filters: Sequence[ColumnFilter], kind_of: Callable[[str], TemporalKind]
) -> BooleanExpression:
    """The rows of the partitions the filters select (``AlwaysTrue`` without filters)."""
    from pyiceberg.expressions import (
        AlwaysFalse,
        AlwaysTrue,
        And,
        GreaterThanOrEqual,
        In,
        LessThan,
        Or,
    )

    result: BooleanExpression = AlwaysTrue()
    for column_filter in filters:
        column = column_filter.column
        part: BooleanExpression
        if column_filter.windows is not None:
            kind = kind_of(column)
            part = AlwaysFalse()
            for window in column_filter.windows:
                start, end = window_bounds(window, kind)
                # pyiceberg's predicates take (term, literal) positionally; their pydantic
                # fields hide that signature from type checkers.
                low = GreaterThanOrEqual(column, _bound(start))  # pyright: ignore[reportCallIssue]
                high = LessThan(column, _bound(end))  # pyright: ignore[reportCallIssue]
                part = Or(part, And(low, high))
        else:
            keys = tuple(column_filter.values or ())
            part = In(column, keys)  # pyright: ignore[reportCallIssue]
        result = And(result, part)
    return result


def describe(filters: Sequence[ColumnFilter]) -> str:
    """The filters for messages and logs, e.g. ``ts in [2024-01-02, 2024-01-03)``."""
    parts = []
    for column_filter in filters:
        if column_filter.windows is not None:
            spans = ", ".join(
                f"[{w.start.isoformat()}, {w.end.isoformat()})" for w in column_filter.windows
            )
            parts.append(f"{column_filter.column} in {spans}")
        else:
            parts.append(f"{column_filter.column} in {list(column_filter.values or ())}")
    return " and ".join(parts) or "all rows"


def add_partition_fields(transaction: Transaction, filters: Sequence[ColumnFilter]) -> None:
    """Partition a new table like its asset: a day per time window, a value per static key."""
    from pyiceberg.transforms import DayTransform, IdentityTransform

    if not filters:
        return
    with transaction.update_spec() as spec:
        for column_filter in filters:
            column = column_filter.column
            if column_filter.windows is not None:
                spec.add_field(column, DayTransform(), f"{column}_day")
            else:
                spec.add_field(column, IdentityTransform(), column)
