"""The metadata every output reports: row count, column schema, URI or table, preview."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from dagster import (
    MetadataValue,
    TableColumn,
    TableSchema,
)

from .metadata import WriteMode
from .ranges import describe_keys

PREVIEW_ROWS = 5
_PREVIEW_CELL_CHARS = 40
_PREVIEW_JSON_CHARS = 2000
_PREVIEW_NESTED_ITEMS = 20


def column_schema(schema: Mapping[str, pl.DataType]) -> TableSchema:
    """A Dagster TableSchema from a polars schema."""
    return TableSchema(
        columns=[TableColumn(name=name, type=str(dtype)) for name, dtype in schema.items()]
    )


def payload_row_count(obj: pl.DataFrame | Mapping[str, Any]) -> int:
    """Rows of a frame; for a dict, the length of its ``data`` list, else its number of keys."""
    if isinstance(obj, pl.DataFrame):
        return obj.height
    data = obj.get("data")
    return len(data) if isinstance(data, list) else len(obj)


def frame_preview(frame: pl.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small markdown table of the first rows."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        if len(text) > _PREVIEW_CELL_CHARS:
            text = text[: _PREVIEW_CELL_CHARS - 1] + "…"
        return text.replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.head(rows).iter_rows()]
    return "\n".join([header, rule, *body])


def dict_preview(payload: Mapping[str, Any], rows: int = PREVIEW_ROWS) -> str:
    """A markdown code block with the first records of ``data`` (or the dict), truncated."""
    data = payload.get("data")
    sample: Any = data[:rows] if isinstance(data, list) else payload
    # Nested lists are cut too, so a large payload is not serialized whole for a preview.
    text = json.dumps(
        _first_items(sample, _PREVIEW_NESTED_ITEMS), ensure_ascii=False, default=str, indent=1
    )
    if len(text) > _PREVIEW_JSON_CHARS:
        text = text[:_PREVIEW_JSON_CHARS] + "\n…"
    return f"```json\n{text}\n```"


def _first_items(value: Any, count: int) -> Any:
    if isinstance(value, list | tuple):
        return [_first_items(item, count) for item in value[:count]]
    if isinstance(value, Mapping):
        return {key: _first_items(item, count) for key, item in value.items()}
    return value


def build_output_metadata(
    obj: pl.DataFrame | Mapping[str, Any],
    *,
    partitioned: bool,
    uri: str | None = None,
    table_name: str | None = None,
    row_count: int | None = None,
    write_mode: WriteMode = "overwrite",
    partitions: Sequence[str] | None = None,
    bytes_written: int | None = None,
) -> dict[str, MetadataValue]:
    """The metadata every output reports.

    ``dagster/partition_row_count`` (partitioned) or ``dagster/row_count``: the rows stored after
    the write (pass ``row_count`` when it differs from ``obj``, e.g. after an append);
    ``dagster/column_schema`` for frames; ``dagster/uri`` or ``dagster/table_name``; ``preview``
    (of ``obj``); ``write_mode``; ``bytes_written`` when a file store knows it.

    An output of a run of several ``partitions`` (a single-run backfill) reports the run's
    totals: Dagster attaches the same metadata to the materialization of each of its partitions,
    so a per-partition row count would be wrong there. It reports ``rows_written`` (the rows
    stored in all its partitions) instead of ``dagster/partition_row_count``,
    ``partitions_written`` (their number) and ``partition_range`` (first...last).

    Example::

        build_output_metadata(first_day, partitioned=True, uri="file:///data/market/ohlcv",
                              row_count=72, partitions=["2024-01-02", "2024-01-03", "2024-01-04"])
        # {"rows_written": 72, ..., "partitions_written": 3,
        #  "partition_range": "2024-01-02...2024-01-04"}
    """
    count = payload_row_count(obj) if row_count is None else row_count
    ranged = partitions is not None and len(partitions) > 1
    if ranged:
        count_key = "rows_written"
    else:
        count_key = "dagster/partition_row_count" if partitioned else "dagster/row_count"
    metadata: dict[str, MetadataValue] = {count_key: MetadataValue.int(count)}
    if isinstance(obj, pl.DataFrame):
        metadata["dagster/column_schema"] = MetadataValue.table_schema(column_schema(obj.schema))
        metadata["preview"] = MetadataValue.md(frame_preview(obj))
    else:
        metadata["preview"] = MetadataValue.md(dict_preview(obj))
    if uri is not None:
        metadata["dagster/uri"] = MetadataValue.text(uri)
    if table_name is not None:
        metadata["dagster/table_name"] = MetadataValue.text(table_name)
    metadata["write_mode"] = MetadataValue.text(write_mode)
    if partitions is not None and ranged:
        metadata["partitions_written"] = MetadataValue.int(len(partitions))
        metadata["partition_range"] = MetadataValue.text(describe_keys(partitions))
    if bytes_written is not None:
        metadata["bytes_written"] = MetadataValue.int(bytes_written)
    return metadata
