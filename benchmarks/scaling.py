"""Cost of one daily partition (write, then read) when 1, 30 and 365 partitions already exist."""

from __future__ import annotations

from typing import Any

import polars as pl

from .common import (
    DAY_ROWS,
    PARTITION_COLUMN,
    day_frame,
    day_key,
    input_context,
    output_context,
    package_module,
    run_interleaved,
)
from .common import Contender as Timed
from .config import Inputs, Setup
from .tables import KEY

EXISTING = (1, 30, 365)
METADATA = {"partition_expr": PARTITION_COLUMN}


def rows_per_day(setup: Setup) -> int:
    return min(DAY_ROWS, max(100, setup.rows // 100))


class Backend:
    """One manager plus a bulk loader that adds existing partitions without timing them."""

    def __init__(self, name: str, manager: Any, fill: Any) -> None:
        self.name, self.manager, self.fill = name, manager, fill


def scaling(setup: Setup, inputs: Inputs) -> dict[str, Any]:
    import duckdb
    import psycopg

    day_rows = rows_per_day(setup)
    days = {day: day_frame(day, day_rows) for day in range(max(EXISTING))}
    directory = setup.directory("scaling")
    resources = inputs.resources
    backends: list[Backend] = []

    filesystem = package_module(setup.package, "io_managers.filesystem").FilesystemIOManager(
        base_path=str(directory / "files")
    )

    def fill_files(new_days: list[int]) -> None:
        for day in new_days:
            path = directory / "files" / "market" / "ohlcv" / f"date={day_key(day)}"
            path.mkdir(parents=True, exist_ok=True)
            days[day].write_parquet(path / "data.parquet")

    backends.append(Backend("FilesystemIOManager", filesystem, fill_files))

    duckdb_path = directory / "scaling.duckdb"
    ours_duckdb = package_module(setup.package, "io_managers.duckdb").DuckDBIOManager(
        db_path=str(duckdb_path)
    )

    def fill_duckdb(new_days: list[int]) -> None:
        with duckdb.connect(str(duckdb_path)) as connection:
            connection.register("incoming", pl.concat([days[d] for d in new_days]).to_arrow())
            connection.execute("INSERT INTO market.ohlcv BY NAME SELECT * FROM incoming")

    backends.append(Backend("DuckDBIOManager", ours_duckdb, fill_duckdb))

    if setup.postgres is not None:
        sql = package_module(setup.package, "io_managers.sql")
        ours_sql = sql.SQLIOManager(**setup.postgres["io_manager_config"], schema="bench_scaling")

        def fill_postgres(new_days: list[int]) -> None:
            frame = pl.concat([days[d] for d in new_days])
            with psycopg.connect(**setup.postgres["connect"]) as connection:
                statement = "COPY bench_scaling.ohlcv FROM STDIN (FORMAT binary)"
                with connection.cursor() as cursor, cursor.copy(statement) as copy:
                    for chunk in sql.encode_copy_binary(frame):
                        copy.write(chunk)
                connection.commit()

        with psycopg.connect(**setup.postgres["connect"], autocommit=True) as connection:
            connection.execute("DROP SCHEMA IF EXISTS bench_scaling CASCADE")
        backends.append(Backend("SQLIOManager (PostgreSQL)", ours_sql, fill_postgres))

    results: dict[str, Any] = {"rows_per_partition": day_rows, "existing": list(EXISTING)}
    measured: dict[str, dict[str, Any]] = {backend.name: {} for backend in backends}
    existing = 0
    for count in EXISTING:
        target = count - 1  # the newest existing partition is written again and read
        new_days = list(range(existing, count))
        for backend in backends:
            if existing == 0:
                # The first partition goes through the manager: it creates the table.
                context = output_context(KEY, resources, partition=day_key(0), metadata=METADATA)
                backend.manager.handle_output(context, days[0])
                new_days = new_days[1:]
            if new_days:
                backend.fill(new_days)
        existing = count
        timed = [
            _partition_contender(backend, resources, days[target], day_key(target))
            for backend in backends
        ]
        run_interleaved(timed, setup.repeats)
        for backend, contender in zip(backends, timed, strict=True):
            measured[backend.name][str(count)] = contender.result()

    results["backends"] = measured
    results["ratios_365_over_1"] = {
        name: _ratio(per_count.get(str(max(EXISTING))), per_count.get(str(min(EXISTING))))
        for name, per_count in measured.items()
    }
    return results


def _partition_contender(backend: Backend, resources: Any, frame: pl.DataFrame, key: str) -> Timed:
    reading = input_context(KEY, resources, partition=key, metadata=METADATA)

    def write() -> None:
        backend.manager.handle_output(
            output_context(KEY, resources, partition=key, metadata=METADATA), frame
        )

    def check(loaded: Any) -> None:
        if loaded.height != frame.height:
            raise AssertionError(f"{backend.name}: read {loaded.height} rows of {frame.height}")

    return Timed(
        backend.name,
        "ours",
        write=write,
        read=lambda: backend.manager.load_input(reading),
        check=check,
    )


def _ratio(high: dict[str, Any] | None, low: dict[str, Any] | None) -> float | None:
    if not high or not low or not high.get("total_s") or not low.get("total_s"):
        return None
    return high["total_s"] / low["total_s"]
