"""Codecs of payloads: JSON for dicts."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import typing
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from .errors import JSONEncodingError
from .payloads import PayloadKind

# File name extension of each payload kind in file and object stores.
EXTENSIONS: dict[PayloadKind, str] = {"dict": ".json", "frame": ".parquet"}
# File name (without extension) of one partition inside its hive directory.
PARTITION_FILE_STEM = "data"


def to_json_compatible(value: Any, *, asset: str, path: str = "$") -> Any:
    """Convert ``value`` to plain JSON types, deterministically, or raise naming the key path.

    datetime/date/time -> ISO 8601 string (offset kept when timezone-aware), Decimal -> string
    (exact), tuple -> list. NaN/Infinity, non-string dict keys, sets, bytes and other objects raise
    :class:`JSONEncodingError`: JSON has no lossless form for them.
    """
    return _to_json(value, asset, path, set())


def _to_json(value: Any, asset: str, path: str, active: set[int]) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        _json_error(
            asset, path, f"the float {value!r} has no JSON form", "replace it with None or a string"
        )
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list | tuple):
        if id(value) in active:
            _json_error(asset, path, "it is a circular reference", "break the cycle")
        active.add(id(value))
        try:
            if isinstance(value, dict):
                result = {}
                for key, item in value.items():
                    if not isinstance(key, str):
                        _json_error(
                            asset,
                            f"{path}[{key!r}]",
                            f"the key {key!r} is a {type(key).__name__}, not a string",
                            "use string keys",
                        )
                    result[key] = _to_json(item, asset, f"{path}.{key}", active)
                return result
            return [_to_json(item, asset, f"{path}[{i}]", active) for i, item in enumerate(value)]
        finally:
            active.discard(id(value))
    _json_error(
        asset,
        path,
        f"a {type(value).__qualname__} has no lossless JSON form",
        "convert it to str, int, float, bool, None, list or dict",
    )


def _json_error(asset: str, path: str, problem: str, fix: str) -> typing.NoReturn:
    raise JSONEncodingError(f"Asset {asset}: cannot write {path} as JSON: {problem}; {fix}.")


def encode_json(payload: Mapping[str, Any], *, asset: str, indent: int | None = None) -> bytes:
    """UTF-8 JSON bytes of a dict payload (see :func:`to_json_compatible` for the rules).

    ``indent`` None writes one line; a number writes one item per line, nested ``indent``
    spaces deeper, except that a list or dict holding only scalars stays on one line (a candle
    ``[ts, o, h, l, c, v]`` is one line), and ends with a newline. Either form decodes to the
    same value.

    Example::

        encode_json({"data": [[1, 2.5]]}, asset="raw/x")  # b'{"data":[[1,2.5]]}'
        encode_json({"data": [[1, 2.5]]}, asset="raw/x", indent=2)
        # b'{\n  "data": [\n    [1, 2.5]\n  ]\n}\n'
    """
    options: dict[str, Any] = {"ensure_ascii": False, "allow_nan": False, "separators": (",", ":")}
    # Fast path: the C encoder refuses NaN, cycles and unknown objects by itself; only
    # non-string keys (which it would turn into strings) need a look. The Python walk runs only
    # when something is wrong, to name the key path in the error.
    value: Any = payload
    try:
        text = json.dumps(payload, default=_json_default, **options)
    except (TypeError, ValueError, RecursionError):
        text = None
    if text is None or _has_non_string_key(payload):
        value = to_json_compatible(payload, asset=asset)
        text = json.dumps(value, **options)
    if indent is not None:
        text = _indented(value, " " * indent, "") + "\n"
    return text.encode("utf-8")


def _indented(value: Any, step: str, margin: str) -> str:
    """``value`` (already checked by the compact encoding) as indented JSON, ``margin`` being
    the indentation of its first line; a container of scalars only stays on one line."""
    children = list(value.values()) if isinstance(value, dict) else value
    if not isinstance(value, dict | list | tuple) or not any(
        isinstance(child, dict | list | tuple) for child in children
    ):
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=_json_default)
    inner = margin + step
    if isinstance(value, dict):
        lines = [
            f"{inner}{json.dumps(key, ensure_ascii=False)}: {_indented(child, step, inner)}"
            for key, child in value.items()
        ]
        return "{\n" + ",\n".join(lines) + f"\n{margin}}}"
    lines = [f"{inner}{_indented(child, step, inner)}" for child in value]
    return "[\n" + ",\n".join(lines) + f"\n{margin}]"


def _json_default(value: Any) -> Any:
    """The conversions of :func:`to_json_compatible` for the C encoder; anything else raises."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__qualname__)


def _has_non_string_key(payload: Any) -> bool:
    """True if a dict anywhere in the payload has a key that is not a string.

    Walks one nesting level at a time; ``set(map(type, ...))`` over each level runs at C
    speed, so a million scalars cost milliseconds. Called after ``json.dumps`` succeeded, so
    the payload has no cycles.
    """
    level: list[Any] = [payload]
    while level:
        dicts = [value for value in level if isinstance(value, dict)]
        sequences = [value for value in level if not isinstance(value, dict)]
        key_types = set(map(type, itertools.chain.from_iterable(dicts)))
        if not all(issubclass(kind, str) for kind in key_types):
            return True
        kinds = set(map(type, _children(dicts, sequences)))
        if not any(issubclass(kind, dict | list | tuple) for kind in kinds):
            return False
        level = [c for c in _children(dicts, sequences) if isinstance(c, dict | list | tuple)]
    return False


def _children(dicts: list[dict[Any, Any]], sequences: list[Any]) -> Iterable[Any]:
    values = itertools.chain.from_iterable(value.values() for value in dicts)
    return itertools.chain(values, itertools.chain.from_iterable(sequences))


def decode_json(data: bytes | str) -> Any:
    return json.loads(data)
