"""Iceberg: IcebergIOManager against raw pyiceberg writes of the same frame, and the PostgreSQL
store (the transform layer's other deployed choice)."""

from __future__ import annotations

import polars as pl

from .common import Contender, input_context, package_module, same_rows
from .config import Inputs, Setup
from .tables import KEY, OutputContexts


def iceberg_contenders(setup: Setup, inputs: Inputs) -> list[Contender]:
    from pyiceberg.catalog.sql import SqlCatalog

    assert setup.postgres is not None, "the Iceberg section compares with PostgreSQL"
    frame, resources = inputs.frame, inputs.resources
    directory = setup.directory("iceberg")
    ours = package_module(setup.package, "io_managers.iceberg").IcebergIOManager(
        catalog_uri=f"sqlite:///{directory / 'ours.db'}", warehouse=str(directory / "ours")
    )
    reading = input_context(KEY, resources)
    contexts = OutputContexts(resources, KEY)

    raw_warehouse = directory / "raw"
    raw_warehouse.mkdir(exist_ok=True)
    catalog = SqlCatalog(
        "raw", uri=f"sqlite:///{directory / 'raw.db'}", warehouse=raw_warehouse.as_uri()
    )
    catalog.create_namespace_if_not_exists("market")
    arrow = frame.to_arrow()

    def raw_write() -> None:
        # What the manager does physically: one overwrite commit of the whole frame.
        if catalog.table_exists(("market", "ohlcv")):
            catalog.load_table(("market", "ohlcv")).overwrite(arrow)
        else:
            catalog.create_table(("market", "ohlcv"), schema=arrow.schema).append(arrow)

    def raw_read() -> pl.DataFrame:
        table = catalog.load_table(("market", "ohlcv"))
        loaded = pl.from_arrow(table.scan().to_arrow())
        assert isinstance(loaded, pl.DataFrame)
        return loaded

    sql = package_module(setup.package, "io_managers.sql")
    postgres = sql.SQLIOManager(**setup.postgres["io_manager_config"], schema="bench_iceberg")
    contenders = [
        Contender(
            "IcebergIOManager (SQLite catalog, local files)",
            "ours",
            write=lambda: ours.handle_output(contexts(), frame),
            read=lambda: ours.load_input(reading),
        ),
        Contender("raw pyiceberg (overwrite / scan)", "raw", write=raw_write, read=raw_read),
        Contender(
            "SQLIOManager on PostgreSQL (binary COPY)",
            "peer",
            write=lambda: postgres.handle_output(contexts(), frame),
            read=lambda: postgres.load_input(reading),
        ),
    ]
    for contender in contenders:
        contender.check = same_rows(frame)
    return contenders
