"""Peak RSS of one write, measured in a fresh process (the parent's heap does not count).

The suite runs :func:`probe` in a process forked from a forkserver that has the libraries
imported already, so a probe costs the write, not the imports. A small write first pays the
lazy imports and clients, so the measured write is the steady-state one.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from .common import dagster_resources, measure_peak_rss
from .config import Inputs, Setup
from .sections import SECTIONS

# Imported once by the forkserver; every probe process starts with them loaded.
PRELOAD = [
    "benchmarks.memory",
    "boto3",
    "dagster_aws.s3",
    "dagster_duckdb_polars",
    "dagster_polars",
    "duckdb",
    "kuzu",
    "pandas",
    "psycopg",
    "sqlalchemy",
]
PACKAGE_MODULES = ["duckdb", "filesystem", "kuzu", "s3", "sql"]


def preload(package: str) -> list[str]:
    return [*PRELOAD, *(f"{package}.io_managers.{name}" for name in PACKAGE_MODULES)]


def probe(setup_file: str, inputs_dir: str, section: str, name: str) -> dict[str, Any]:
    """Peak RSS growth in bytes of the write of contender `name` of `section`."""
    setup = Setup.load(Path(setup_file))
    setup.workdir = str(Path(setup.workdir) / "memory")
    frame = pl.read_parquet(Path(inputs_dir) / "frame.parquet")
    payload = json.loads((Path(inputs_dir) / "payload.json").read_text())
    build = SECTIONS[section].build
    with contextlib.ExitStack() as stack, dagster_resources() as resources:

        def contender(data: pl.DataFrame) -> Any:
            inputs = Inputs(frame=data, payload=payload, stack=stack, resources=resources)
            return next(c for c in build(setup, inputs) if c.name == name)

        contender(frame.head(100)).write()
        measured = contender(frame)
        return {"peak_rss_growth_bytes": measure_peak_rss(measured.write)}
