"""What every section needs to build its contenders, in a form a child process can rebuild.

The peak-memory probe runs each write again in a fresh process; it gets this setup as JSON and
the frame as a Parquet file, and builds the same contenders with the same code.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl


@dataclass
class Setup:
    package: str
    rows: int
    repeats: int
    workdir: str
    # Cap of the row-by-row peers (pandas to_sql, polars write_database, Kuzu CREATE per row):
    # they run on a sample of this size and are scaled linearly to `rows`.
    sample_rows: int
    s3: dict[str, Any] | None = None
    postgres: dict[str, Any] | None = None

    def directory(self, name: str) -> Path:
        path = Path(self.workdir) / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Setup:
        return cls(**json.loads(path.read_text()))


@dataclass
class Inputs:
    """The data every section writes: the frame and, for dict stores, the raw payload."""

    frame: pl.DataFrame
    payload: dict[str, Any]
    stack: contextlib.ExitStack
    resources: Any
