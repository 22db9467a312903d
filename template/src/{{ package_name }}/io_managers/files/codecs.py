"""A codec per payload kind: dicts as JSON, polars DataFrames as Parquet.

The file store picks the codec by the payload's kind; codecs know nothing of backends. Each one
says how a payload is written (encoded eagerly where that validates it, so a refused payload
touches nothing), read (with column selection for frames), updated under a write mode, and
combined when several partitions are loaded.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import polars as pl

from ..core.codecs import EXTENSIONS, decode_json, encode_json
from ..core.frames import concat_frames, merge_frames, select_columns
from ..core.metadata import StorageMetadata
from ..core.payloads import PayloadKind, check_dict_write_mode
from .backend import Source, Writer

P = TypeVar("P")


class Codec(Protocol[P]):
    """How one payload kind becomes bytes and back.

    Example::

        codec = CODECS["frame"]
        writer = codec.encode(frame, asset="market/ohlcv")
        writer(handle)  # Parquet bytes into an open binary file
        frame = codec.decode(path, columns=("ts", "close"), asset="market/ohlcv", where=uri)
    """

    @property
    def kind(self) -> PayloadKind: ...
    @property
    def extension(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def description(self) -> str: ...

    def encode(self, payload: P, *, asset: str) -> Writer:
        """A writer of ``payload``'s bytes; raises first if the payload cannot be stored."""
        ...

    def decode(
        self, source: Source, *, columns: tuple[str, ...] | None, asset: str, where: str
    ) -> P:
        """The payload stored in ``source``; ``columns`` selects frame columns."""
        ...

    def update(
        self,
        payload: P,
        meta: StorageMetadata,
        stored: Callable[[], P | None],
        *,
        asset: str,
        where: str,
    ) -> P:
        """What to store after this write under ``meta.write_mode`` (``stored``: the old one)."""
        ...

    def combine(self, loaded: Mapping[str, P], *, asset: str) -> P | dict[str, P]:
        """Several loaded partitions as one input value."""
        ...

    def empty(self) -> P:
        """The value of an input that selects no partitions."""
        ...


def _read_all(source: Source) -> bytes:
    return source.read_bytes() if isinstance(source, Path) else source.read()


@dataclass(frozen=True)
class StoredFormat:
    """What a codec stores: its payload kind, file extension, content type, and how messages
    name the payload.

    Example::

        CODECS["frame"].extension  # ".parquet"
        CODECS["dict"].content_type  # "application/json"
    """

    kind: PayloadKind
    extension: str
    content_type: str
    description: str


@dataclass(frozen=True)
class JsonCodec(StoredFormat):
    """Dicts as UTF-8 JSON (the rules of :func:`~..core.codecs.encode_json`); written whole.

    ``indent`` None writes one line; a number, indented JSON (read back the same).

    Example::

        writer = CODECS["dict"].encode({"data": [1]}, asset="raw/x")  # JSONEncodingError here
        writer(handle)  # b'{"data":[1]}'
        dataclasses.replace(CODECS["dict"], indent=2).encode(payload, asset="raw/x")
    """

    indent: int | None = None

    def encode(self, payload: Mapping[str, Any], *, asset: str) -> Writer:
        # Eager: refused values raise before any I/O.
        data = encode_json(payload, asset=asset, indent=self.indent)
        return lambda handle: handle.write(data)

    def decode(
        self, source: Source, *, columns: tuple[str, ...] | None, asset: str, where: str
    ) -> Any:
        return decode_json(_read_all(source))

    def update(
        self,
        payload: Mapping[str, Any],
        meta: StorageMetadata,
        stored: Callable[[], Any],
        *,
        asset: str,
        where: str,
    ) -> Mapping[str, Any]:
        check_dict_write_mode(meta, asset=asset)
        return payload

    def combine(self, loaded: Mapping[str, Any], *, asset: str) -> dict[str, Any]:
        return dict(loaded)

    def empty(self) -> dict[str, Any]:
        return {}


class ParquetCodec(StoredFormat):
    """polars DataFrames as Parquet (polars' defaults); append and upsert merge with the stored.

    Example::

        codec = CODECS["frame"]
        frame = codec.update(new, meta, lambda: stored, asset="market/ohlcv", where=uri)
        codec.decode(path, columns=("close",), asset="market/ohlcv", where=uri)
    """

    def encode(self, payload: pl.DataFrame, *, asset: str) -> Writer:
        return payload.write_parquet

    def decode(
        self, source: Source, *, columns: tuple[str, ...] | None, asset: str, where: str
    ) -> pl.DataFrame:
        if columns is None:
            return pl.read_parquet(source)
        selected = select_columns(
            list(pl.read_parquet_schema(source)), columns, asset=asset, where=where
        )
        if not isinstance(source, Path):
            source.seek(0)
        return pl.read_parquet(source, columns=selected)

    def update(
        self,
        payload: pl.DataFrame,
        meta: StorageMetadata,
        stored: Callable[[], pl.DataFrame | None],
        *,
        asset: str,
        where: str,
    ) -> pl.DataFrame:
        existing = stored() if meta.write_mode != "overwrite" else None
        return merge_frames(existing, payload, meta, asset=asset, where=where)

    def combine(self, loaded: Mapping[str, pl.DataFrame], *, asset: str) -> pl.DataFrame:
        return concat_frames(loaded, asset=asset)

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame()


CODECS: dict[PayloadKind, Codec[Any]] = {
    "dict": JsonCodec("dict", EXTENSIONS["dict"], "application/json", "a dict"),
    "frame": ParquetCodec(
        "frame", EXTENSIONS["frame"], "application/vnd.apache.parquet", "a polars.DataFrame"
    ),
}


def decode_bytes(kind: PayloadKind, data: bytes, *, asset: str) -> Any:
    """A stored payload from its bytes (for stores that hand out their contents, e.g. tests)."""
    return CODECS[kind].decode(io.BytesIO(data), columns=None, asset=asset, where=asset)
