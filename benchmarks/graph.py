"""Kuzu: KuzuDBIOManager's bulk COPY against one CREATE per row and a raw COPY."""

from __future__ import annotations

import shutil
from typing import Any

import polars as pl

from .common import Contender, input_context, package_module, same_rows
from .config import Inputs, Setup
from .tables import OutputContexts

KEY = ["graph", "Candle"]
# One CREATE per row costs milliseconds: that peer runs on at most this many rows.
PER_ROW_CAP = 500
SCHEMA = (
    "CREATE NODE TABLE Candle(candle_id INT64, ts TIMESTAMP, symbol STRING, open DOUBLE, "
    "high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, PRIMARY KEY(candle_id))"
)


def candle_nodes(frame: pl.DataFrame) -> pl.DataFrame:
    """The OHLCV frame as nodes: a key column first."""
    return frame.with_row_index("candle_id").with_columns(pl.col("candle_id").cast(pl.Int64))


def kuzu_contenders(setup: Setup, inputs: Inputs) -> list[Contender]:
    import kuzu

    nodes = candle_nodes(inputs.frame)
    resources = inputs.resources
    directory = setup.directory("kuzu")
    ours = package_module(setup.package, "io_managers.kuzu").KuzuDBIOManager(
        db_path=str(directory / "ours.kuzu")
    )
    metadata = {"primary_key": "candle_id"}
    reading = input_context(KEY, resources, metadata=metadata)
    contexts = OutputContexts(resources, KEY, metadata=metadata)
    sample = nodes.head(min(PER_ROW_CAP, setup.sample_rows))

    def fresh(path: str) -> tuple[Any, Any]:
        shutil.rmtree(path, ignore_errors=True)
        for suffix in ("", ".wal", ".lock"):
            target = directory / (path.rsplit("/", 1)[-1] + suffix)
            if target.is_file():
                target.unlink()
        database = kuzu.Database(path)
        connection = kuzu.Connection(database)
        connection.execute(SCHEMA)
        return database, connection

    raw_path = str(directory / "raw.kuzu")

    def raw_write() -> None:
        database, connection = fresh(raw_path)
        try:
            connection.execute("COPY Candle FROM $frame", {"frame": nodes})
        finally:
            connection.close()
            database.close()

    def raw_read() -> pl.DataFrame:
        database = kuzu.Database(raw_path, read_only=True)
        connection = kuzu.Connection(database)
        try:
            query = (
                "MATCH (n:Candle) RETURN n.candle_id AS candle_id, n.ts AS ts, n.symbol AS "
                "symbol, n.open AS open, n.high AS high, n.low AS low, n.close AS close, "
                "n.volume AS volume"
            )
            return connection.execute(query).get_as_pl()
        finally:
            connection.close()
            database.close()

    per_row_path = str(directory / "per_row.kuzu")

    def per_row_write() -> None:
        database, connection = fresh(per_row_path)
        statement = (
            "CREATE (:Candle {candle_id: $candle_id, ts: $ts, symbol: $symbol, open: $open, "
            "high: $high, low: $low, close: $close, volume: $volume})"
        )
        try:
            connection.execute("BEGIN TRANSACTION")
            for row in sample.iter_rows(named=True):
                connection.execute(statement, row)
            connection.execute("COMMIT")
        finally:
            connection.close()
            database.close()

    scale = nodes.height / sample.height
    contenders = [
        Contender(
            "KuzuDBIOManager (COPY FROM frame)",
            "ours",
            write=lambda: ours.handle_output(contexts(), nodes),
            read=lambda: ours.load_input(reading),
            check=same_rows(nodes),
        ),
        Contender(
            "one CREATE per row (one transaction)",
            "peer",
            write=per_row_write,
            scale=scale,
            note=f"{sample.height:,} rows, scaled to {nodes.height:,}" if scale != 1 else "",
        ),
        Contender(
            "raw kuzu COPY FROM frame / MATCH RETURN",
            "raw",
            write=raw_write,
            read=raw_read,
            check=same_rows(nodes),
            note="new database file each write",
        ),
    ]
    return contenders
