"""Table stores: DuckDB and PostgreSQL, ours against Dagster's own and hand-written peers."""

from __future__ import annotations

import io
from typing import Any

import dagster as dg
import polars as pl

from .common import Contender, input_context, output_context, package_module, same_rows
from .config import Inputs, Setup

KEY = ["market", "ohlcv"]


class OutputContexts:
    """Fresh output contexts, built before timing (a context takes its metadata once)."""

    def __init__(self, resources: Any, key: list[str], **options: Any) -> None:
        self.resources, self.key, self.options = resources, key, options

    def __call__(self) -> dg.OutputContext:
        return output_context(self.key, self.resources, **self.options)


# ---------------------------------------------------------------------------- DuckDB


def duckdb_contenders(setup: Setup, inputs: Inputs) -> list[Contender]:
    import duckdb

    frame, resources = inputs.frame, inputs.resources
    directory = setup.directory("duckdb")
    ours = package_module(setup.package, "io_managers.duckdb").DuckDBIOManager(
        db_path=str(directory / "ours.duckdb")
    )
    reading = input_context(KEY, resources)
    contexts = OutputContexts(resources, KEY)
    contenders = [
        Contender(
            "DuckDBIOManager",
            "ours",
            write=lambda: ours.handle_output(contexts(), frame),
            read=lambda: ours.load_input(reading),
        )
    ]

    try:
        from dagster_duckdb_polars import DuckDBPolarsIOManager
    except ImportError as error:
        contenders.append(_missing("dagster-duckdb-polars DuckDBPolarsIOManager", error))
    else:
        # Dagster's DuckDB client reads its settings from the context, as a run provides them.
        peer_config = {"database": str(directory / "peer.duckdb"), "connection_config": {}}
        peer_resources = inputs.stack.enter_context(
            dg.build_resources({"io_manager": DuckDBPolarsIOManager(**peer_config)})
        )
        peer = peer_resources.io_manager
        peer_reading = input_context(KEY, peer_resources, resource_config=peer_config)
        peer_contexts = OutputContexts(peer_resources, KEY, resource_config=peer_config)
        contenders.append(
            Contender(
                "dagster-duckdb-polars DuckDBPolarsIOManager",
                "peer",
                write=lambda: peer.handle_output(peer_contexts(), frame),
                read=lambda: peer.load_input(peer_reading),
            )
        )

    raw_path = str(directory / "raw.duckdb")

    def raw_write() -> None:
        # What the manager does physically: open the file, Arrow in, one CREATE ... AS SELECT.
        with duckdb.connect(raw_path) as connection:
            connection.register("incoming", frame.to_arrow())
            connection.execute("CREATE OR REPLACE TABLE ohlcv AS SELECT * FROM incoming")

    def raw_read() -> pl.DataFrame:
        with duckdb.connect(raw_path, read_only=True) as connection:
            return pl.from_arrow(connection.sql("SELECT * FROM ohlcv").to_arrow_table())

    contenders.append(
        Contender("raw duckdb (Arrow insert/select)", "raw", write=raw_write, read=raw_read)
    )
    for contender in contenders:
        contender.check = same_rows(frame)
    return contenders


def _missing(name: str, error: BaseException) -> Contender:
    def unavailable() -> None:
        raise error

    return Contender(name, "peer", write=unavailable, read=unavailable)


# ---------------------------------------------------------------------------- PostgreSQL

RAW_DDL = (
    "CREATE TABLE {table} (ts timestamptz, symbol text, open double precision, "
    "high double precision, low double precision, close double precision, "
    "volume double precision)"
)


def postgres_contenders(setup: Setup, inputs: Inputs) -> list[Contender]:
    import psycopg

    assert setup.postgres is not None, "the PostgreSQL section needs a server"
    frame, resources = inputs.frame, inputs.resources
    settings = setup.postgres
    sql = package_module(setup.package, "io_managers.sql")
    ours = sql.SQLIOManager(**settings["io_manager_config"], schema="bench_ours")
    reading = input_context(KEY, resources)
    contexts = OutputContexts(resources, KEY)
    sample = frame.head(setup.sample_rows)
    scale = frame.height / sample.height

    def connect(autocommit: bool = False) -> Any:
        return psycopg.connect(**settings["connect"], autocommit=autocommit)

    with connect(autocommit=True) as connection:
        for schema in ("bench_ours", "bench_raw", "bench_pandas", "bench_polars"):
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")

    def replace_and_copy(table: str, statement: str, chunks: Any) -> None:
        # An overwrite as a hand-written job does it: one transaction, drop, create, COPY.
        with connect() as connection:
            connection.execute(f"DROP TABLE IF EXISTS {table}")
            connection.execute(RAW_DDL.format(table=table))
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for chunk in chunks():
                    copy.write(chunk)
            connection.commit()

    def csv_chunks() -> Any:
        for chunk in frame.iter_slices(sql.COPY_CHUNK_ROWS):
            buffer = io.BytesIO()
            chunk.write_csv(buffer, include_header=False)
            yield buffer.getvalue()

    def copy_csv() -> None:
        replace_and_copy(
            "bench_raw.ohlcv_csv", "COPY bench_raw.ohlcv_csv FROM STDIN (FORMAT csv)", csv_chunks
        )

    def copy_binary() -> None:
        replace_and_copy(
            "bench_raw.ohlcv_binary",
            "COPY bench_raw.ohlcv_binary FROM STDIN (FORMAT binary)",
            lambda: sql.encode_copy_binary(frame),
        )

    def copy_csv_out() -> pl.DataFrame:
        data = bytearray()
        statement = "COPY bench_raw.ohlcv_csv TO STDOUT (FORMAT csv)"
        with connect() as connection, connection.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in copy:
                data += chunk
        return pl.read_csv(bytes(data), has_header=False, new_columns=frame.columns)

    def to_sql() -> None:
        import sqlalchemy

        engine = sqlalchemy.create_engine(settings["sqlalchemy_url"])
        try:
            sample.to_pandas().to_sql(
                "ohlcv", engine, schema="bench_pandas", index=False, if_exists="replace"
            )
        finally:
            engine.dispose()

    def write_database() -> None:
        sample.write_database(
            "bench_polars.ohlcv",
            settings["sqlalchemy_url"],
            if_table_exists="replace",
            engine="sqlalchemy",
        )

    def read_database() -> pl.DataFrame:
        with connect() as connection:
            return pl.read_database("SELECT * FROM bench_polars.ohlcv", connection)

    sampled = f"{sample.height:,} rows, scaled to {frame.height:,}" if scale != 1 else ""
    contenders = [
        Contender(
            "SQLIOManager (binary COPY)",
            "ours",
            write=lambda: ours.handle_output(contexts(), frame),
            read=lambda: ours.load_input(reading),
        ),
        Contender(
            "raw COPY csv (polars write_csv / read_csv)",
            "raw",
            write=copy_csv,
            read=copy_csv_out,
        ),
        Contender(
            "raw COPY binary (same encoder, no manager)", "raw", write=copy_binary, read=None
        ),
        Contender("pandas to_sql (SQLAlchemy)", "peer", write=to_sql, scale=scale, note=sampled),
        Contender(
            "polars write_database (SQLAlchemy) / read_database (psycopg)",
            "peer",
            write=write_database,
            read=read_database,
            scale=scale,
            read_scale=scale,
            note=sampled,
        ),
    ]
    for contender in contenders:
        contender.check = same_rows(sample if contender.read_scale != 1 else frame)
    return contenders
