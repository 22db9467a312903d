"""Payload kinds (dict, frame) a manager stores and loads; dtypes a backend refuses."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from dagster import (
    InputContext,
)

from .context import ContextT, asset_label
from .errors import MetadataError, UnsupportedTypeError
from .metadata import StorageMetadata

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

PayloadKind = Literal["dict", "frame"]


def payload_kind(obj: Any) -> PayloadKind | None:
    if isinstance(obj, pl.DataFrame):
        return "frame"
    if isinstance(obj, dict):
        return "dict"
    return None


_KIND_NAMES = {"dict": "dict", "frame": "polars.DataFrame"}


@dataclass(frozen=True)
class RefusedDtypes:
    """The polars dtypes a backend cannot store and give back exactly, each with its fix.

    Each backend declares its own; they are refused before anything is written (at any nesting
    depth), instead of failing half-way or returning something else. ``nested`` dtypes are refused
    only inside List, Array or Struct. ``alternative`` names where such a frame can be stored.

    Example::

        REFUSED = RefusedDtypes(
            {pl.Float16: "cast it to Float32"},
            alternative="store it with an IO manager that keeps Parquet",
        )
    """

    top_level: Mapping[type[pl.DataType], str] = field(default_factory=dict)
    nested: Mapping[type[pl.DataType], str] = field(default_factory=dict)
    alternative: str = ""


NOTHING_REFUSED = RefusedDtypes()


def _nested_dtypes(dtype: PolarsDataType, path: str) -> Iterable[tuple[str, PolarsDataType]]:
    yield path, dtype
    if isinstance(dtype, pl.List | pl.Array):
        yield from _nested_dtypes(dtype.inner, f"{path}[]")
    elif isinstance(dtype, pl.Struct):
        for struct_field in dtype.fields:
            yield from _nested_dtypes(struct_field.dtype, f"{path}.{struct_field.name}")


def check_storable_frame(
    frame: pl.DataFrame, *, manager: str, asset: str, refused: RefusedDtypes
) -> None:
    """Refuse dtypes ``manager`` would store wrongly, naming the column and the fix."""
    refused_nested = {**refused.top_level, **refused.nested}
    alternative = f"; or {refused.alternative}" if refused.alternative else ""
    for name, dtype in frame.schema.items():
        for path, inner in _nested_dtypes(dtype, name):
            kinds = refused.top_level if path == name else refused_nested
            fix = next((fix for kind, fix in kinds.items() if isinstance(inner, kind)), None)
            if fix is not None:
                raise UnsupportedTypeError(
                    f"{manager} cannot store column {path!r} of asset {asset}: polars dtype "
                    f"{inner} is not stored exactly by this backend. Before returning the frame, "
                    f"{fix}{alternative}."
                )


def ensure_supported(
    obj: Any,
    *,
    context: ContextT,
    manager: str,
    supported: Sequence[PayloadKind],
    fix: str,
    refused: RefusedDtypes = NOTHING_REFUSED,
) -> PayloadKind:
    """Return the payload kind of ``obj`` or raise a clear :class:`UnsupportedTypeError`.

    Managers that store frames only (tables) also refuse a frame without columns: no database
    creates a table without columns. File stores keep such a frame as it is.
    """
    kind = payload_kind(obj)
    if kind == "frame" and supported == ("frame",) and obj.width == 0:
        raise UnsupportedTypeError(
            f"{manager} cannot store asset {asset_label(context)}: the polars.DataFrame has no "
            "columns, and a table needs at least one. Return the frame with its schema even "
            "when it has no rows, e.g. pl.DataFrame(schema={...})."
        )
    if kind is not None and kind in supported:
        if kind == "frame":
            check_storable_frame(obj, manager=manager, asset=asset_label(context), refused=refused)
        return kind
    stores = " or ".join(_KIND_NAMES[k] for k in supported)
    if obj is None:
        returned = "None"
        fix += " If the asset stores nothing itself, annotate it with `-> None`."
    else:
        type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        returned = f"a {type_name.removeprefix('builtins.')}"
    raise UnsupportedTypeError(
        f"{manager} cannot store asset {asset_label(context)}: it returned {returned}, but "
        f"{manager} stores {stores} only. {fix}"
    )


def check_dict_write_mode(meta: StorageMetadata, *, asset: str) -> None:
    """A dict is always written whole: append and upsert apply to DataFrames only."""
    if meta.write_mode != "overwrite":
        raise MetadataError(
            f"Asset {asset}: write_mode {meta.write_mode!r} applies to DataFrames only; "
            "a dict is written whole. Remove write_mode, or return a polars.DataFrame."
        )


def expected_kind(context: InputContext) -> PayloadKind | None:
    """The payload kind the downstream asks for through its type annotation, if it says."""
    try:
        typing_type = context.dagster_type.typing_type
    except Exception:  # build_input_context without dagster_type
        return None
    origin = typing.get_origin(typing_type) or typing_type
    if isinstance(origin, type):
        if issubclass(origin, pl.DataFrame):
            return "frame"
        if issubclass(origin, dict | Mapping):
            return "dict"
    return None


def ensure_loadable(
    context: InputContext, *, manager: str, supported: Sequence[PayloadKind], fix: str
) -> PayloadKind | None:
    """Refuse to load into an annotation the backend cannot produce; return the expected kind."""
    kind = expected_kind(context)
    if kind is not None and kind not in supported:
        stores = " or ".join(_KIND_NAMES[k] for k in supported)
        raise UnsupportedTypeError(
            f"{manager} cannot load asset {asset_label(context)} as {_KIND_NAMES[kind]}: it "
            f"stores {stores} only. {fix}"
        )
    return kind
