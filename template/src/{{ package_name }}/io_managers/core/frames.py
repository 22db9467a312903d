"""Frames: write modes, drift and key checks, column selection, dtypes kept across backends."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from .errors import MetadataError, SchemaDriftError
from .metadata import StorageMetadata

if TYPE_CHECKING:
    from polars._typing import PolarsDataType


def check_primary_key(
    frame: pl.DataFrame,
    primary_key: Sequence[str],
    *,
    asset: str,
    what: str = "primary_key",
    unique_because: str | None = "an upsert needs one row per key",
) -> None:
    """Key columns must exist, hold no nulls, and (unless ``unique_because`` is None) be unique.

    ``what`` names the key in messages (e.g. ``"graph_rel key"``); ``unique_because`` says why a
    repeated key is refused, and the message shows a few of the repeated values.
    """
    missing = [c for c in primary_key if c not in frame.columns]
    if missing:
        raise MetadataError(
            f"Asset {asset}: {what} column(s) {', '.join(missing)} are not in the frame "
            f"(columns: {', '.join(frame.columns)})."
        )
    key = list(primary_key)
    null_rows = frame.select(pl.any_horizontal(pl.col(key).is_null()).sum()).item()
    if null_rows:
        raise MetadataError(
            f"Asset {asset}: {null_rows} rows have a null in {what} {key}; keys must be set."
        )
    if unique_because is None:
        return
    duplicates = frame.height - frame.select(key).n_unique()
    if duplicates:
        repeated = (
            frame.select(key).filter(pl.struct(key).is_duplicated()).unique(maintain_order=True)
        )
        examples = ", ".join(
            repr(row[0] if len(row) == 1 else row) for row in repeated.head(3).rows()
        )
        raise MetadataError(
            f"Asset {asset}: {unique_because}, but the frame repeats {duplicates} {what} "
            f"value(s) of {key} (e.g. {examples}). Deduplicate the frame first."
        )


def check_no_drift(
    stored: Mapping[str, Any],
    incoming: Mapping[str, Any],
    *,
    asset: str,
    where: str,
    compatible: Callable[[Any, Any], bool] | None = None,
) -> None:
    """Refuse to add frames whose columns or types differ from what is stored at ``where``.

    Types are polars dtypes by default; backends without a stored polars schema may pass their
    own type names and ``compatible`` (e.g. ``operator.eq``).
    """
    compatible = compatible or dtypes_compatible
    new = [c for c in incoming if c not in stored]
    gone = [c for c in stored if c not in incoming]
    changed = [
        f"{c} ({stored[c]} -> {incoming[c]})"
        for c in incoming
        if c in stored and not compatible(stored[c], incoming[c])
    ]
    if new or gone or changed:
        details = "; ".join(
            text
            for text in (
                f"new columns: {', '.join(new)}" if new else "",
                f"missing columns: {', '.join(gone)}" if gone else "",
                f"changed dtypes: {', '.join(changed)}" if changed else "",
            )
            if text
        )
        raise SchemaDriftError(
            f"Asset {asset}: the frame does not match the schema stored at {where} ({details}). "
            "Return the stored columns and dtypes, or migrate the stored data first (for a table: "
            "ALTER TABLE, or drop it to let the next full write recreate it)."
        )


def dtypes_compatible(stored: pl.DataType, incoming: pl.DataType) -> bool:
    """Equal dtypes; timezone-aware datetimes match whatever their zone (they are instants)."""
    if stored == incoming:
        return True
    return (
        isinstance(stored, pl.Datetime)
        and isinstance(incoming, pl.Datetime)
        and stored.time_unit == incoming.time_unit
        and stored.time_zone is not None
        and incoming.time_zone is not None
    )


def merge_frames(
    existing: pl.DataFrame | None,
    incoming: pl.DataFrame,
    meta: StorageMetadata,
    *,
    asset: str,
    where: str,
) -> pl.DataFrame:
    """The frame to store after a write in ``meta.write_mode`` (for stores of whole files).

    overwrite: the incoming frame. append: existing rows then incoming rows. upsert: existing rows
    whose key is not in the incoming frame, then the incoming rows.
    """
    if meta.write_mode == "upsert":
        check_primary_key(incoming, meta.primary_key, asset=asset)
    if meta.write_mode == "overwrite" or existing is None:
        return incoming
    check_no_drift(existing.schema, incoming.schema, asset=asset, where=where)
    incoming = incoming.select(existing.columns).cast(existing.schema)
    if meta.write_mode == "append":
        return pl.concat([existing, incoming], how="vertical")
    kept = existing.join(incoming.select(meta.primary_key), on=list(meta.primary_key), how="anti")
    return pl.concat([kept, incoming], how="vertical")


def select_columns(
    frame_columns: Sequence[str], columns: Sequence[str] | None, *, asset: str, where: str
) -> list[str] | None:
    """Validate an input's ``columns`` against the stored columns; ``None`` means all."""
    if columns is None:
        return None
    missing = [c for c in columns if c not in frame_columns]
    if missing:
        raise MetadataError(
            f"Asset {asset}: input metadata 'columns' asks for {', '.join(missing)}, which "
            f"{where} does not have (columns: {', '.join(frame_columns)})."
        )
    return list(columns)


def concat_frames(frames: Mapping[str, pl.DataFrame], *, asset: str) -> pl.DataFrame:
    """Concatenate the frames of several partitions, refusing partitions of different schemas."""
    if not frames:
        return pl.DataFrame()
    items = list(frames.items())
    first_key, first = items[0]
    for key, frame in items[1:]:
        check_no_drift(
            first.schema, frame.schema, asset=asset, where=f"partition {first_key} vs {key}"
        )
    return pl.concat(
        [frame.select(first.columns).cast(first.schema) for _, frame in items],
        how="vertical",
    )


_SCHEMA_PREFIX = "dagster-polars-schema:v1:"


def encode_frame_schema(schema: Mapping[str, pl.DataType]) -> str:
    """A compact text form of a polars schema (Arrow IPC, zlib, base64), for table comments.

    Backends whose column types do not carry every polars dtype (timestamp units, categoricals,
    enums, unsigned integers) store it next to the data and restore the dtypes on load.
    """
    empty = pl.DataFrame(schema=dict(schema))
    payload = empty.to_arrow().schema.serialize().to_pybytes()
    return _SCHEMA_PREFIX + base64.b64encode(zlib.compress(payload, 9)).decode("ascii")


def decode_frame_schema(text: str | None) -> pl.Schema | None:
    """Inverse of :func:`encode_frame_schema`; ``None`` if ``text`` is not such a schema."""
    if not text or not text.startswith(_SCHEMA_PREFIX):
        return None
    import pyarrow as pa

    try:
        raw = zlib.decompress(base64.b64decode(text.removeprefix(_SCHEMA_PREFIX)))
        arrow_schema = pa.ipc.read_schema(pa.py_buffer(raw))
        frame = pl.from_arrow(arrow_schema.empty_table())
    except Exception:  # unreadable (other polars/pyarrow version): fall back to stored types
        return None
    return frame.schema if isinstance(frame, pl.DataFrame) else None


def restore_dtypes(frame: pl.DataFrame, written: Mapping[str, pl.DataType] | None) -> pl.DataFrame:
    """Cast columns back to the dtypes that were written.

    Timezone-aware datetimes keep the written time unit but come back in UTC.
    """
    if not written:
        return frame
    casts: dict[str, PolarsDataType] = {}
    for name, loaded in frame.schema.items():
        target = written.get(name)
        if target is None:
            continue
        if isinstance(target, pl.Datetime) and target.time_zone is not None:
            target = pl.Datetime(target.time_unit, "UTC")
        if loaded != target:
            casts[name] = target
    return frame.with_columns(pl.col(name).cast(dtype) for name, dtype in casts.items())
