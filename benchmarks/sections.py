"""The comparisons of the suite, in the order they run and appear in the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .common import Contender
from .config import Inputs, Setup
from .graph import kuzu_contenders
from .iceberg import iceberg_contenders
from .objects import filesystem_contenders, s3_dict_contenders, s3_frame_contenders
from .tables import duckdb_contenders, postgres_contenders


@dataclass(frozen=True)
class Section:
    title: str
    build: Callable[[Setup, Inputs], list[Contender]]
    payload: str  # "frame" or "dict": what the size and memory figures relate to
    needs: str | None = None  # "s3" or "postgres": a server the section talks to


SECTIONS: dict[str, Section] = {
    "duckdb": Section("DuckDB", duckdb_contenders, "frame"),
    "filesystem": Section("Filesystem, Parquet frames", filesystem_contenders, "frame"),
    "s3_frames": Section("S3 (SeaweedFS), Parquet frames", s3_frame_contenders, "frame", "s3"),
    "s3_dicts": Section("S3 (SeaweedFS), raw dict payloads", s3_dict_contenders, "dict", "s3"),
    "postgres": Section("PostgreSQL", postgres_contenders, "frame", "postgres"),
    "kuzu": Section("Kuzu", kuzu_contenders, "frame"),
    "iceberg": Section(
        "Iceberg (SQLite catalog, local files)", iceberg_contenders, "frame", "postgres"
    ),
}
