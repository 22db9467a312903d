"""Materialize the whole pipeline for one day in this project's Dagster instance, then say where
the data is. Run it from the project directory: `uv run python -m <package>.demo --date 2024-01-02`.

Runs land in the instance `.env` names (DAGSTER_HOME, this project's `.dagster_home/`; the demo
sets it up with `local_env` when it is missing), so `uv run dg dev` shows them afterwards.
"""

import argparse
import os
from pathlib import Path

from dotenv import dotenv_values

from . import local_env

# Step-by-step debug events stay in the instance (and the UI); the terminal gets warnings.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def load_local_environment(project: Path) -> Path:
    """Load `.env` (set up if missing) as `dg dev` does; return the instance it names.

    Dagster's CLI loads `.env` from the project directory over the shell's variables, so the
    demo does the same: its runs land in the instance `dg dev` and `dagster dev` serve, with the
    same DATA_DIR. The exchanges are replayed unless `--exchange-mode live` says otherwise,
    whatever EXCHANGE_MODE holds: the demo runs offline.
    """
    for note in local_env.prepare(project):
        print(note)
    values = dotenv_values(project / ".env")
    os.environ.update({name: value for name, value in values.items() if value is not None})
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return home


def main(argv: list[str] | None = None) -> int:
    from .partitions import daily_partitions

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--date",
        default=daily_partitions.get_last_partition_key(),
        help="partition day, YYYY-MM-DD (default: the last complete UTC day)",
    )
    parser.add_argument(
        "--exchange-mode",
        choices=("replay", "live"),
        default="replay",
        help="replay (default): recorded payloads, offline; live: the exchanges themselves",
    )
    args = parser.parse_args(argv)
    home = load_local_environment(Path.cwd())
    os.environ["EXCHANGE_MODE"] = args.exchange_mode  # chosen here, over .env and the shell

    import dagster as dg
    import duckdb

    from .definitions import load_definitions
    from .jobs import daily_market_data_job

    defs = load_definitions()
    resources = defs.resources or {}
    job = defs.resolve_job_def(daily_market_data_job.name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=args.date, instance=instance, run_config=QUIET_LOGS
        )
    if not result.success:
        print(f"The run for {args.date} failed; open `uv run dg dev` to see why.")
        return 1

    raw_dir = Path(resources["extract_io_manager"].base_path) / "raw"
    warehouse = resources["transform_io_manager"].db_path
    print(f"Materialized {args.date} (run {result.run_id}).")
    print(f"Raw JSON under {raw_dir.resolve()}:")
    for path in sorted(raw_dir.rglob(f"date={args.date}/*")):
        print(f"  {path.relative_to(raw_dir)}  ({path.stat().st_size:,} bytes)")
    print(f"Tables in {Path(warehouse).resolve()}:")
    with duckdb.connect(warehouse, read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            counted = connection.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE ts::DATE = ?',  # noqa: S608 - names from the catalog
                [args.date],
            ).fetchone()
            rows = counted[0] if counted else 0
            print(f"  {schema}.{table}: {rows} rows on {args.date}")
    from datetime import date

    from . import graph_queries
    from .settings import EXCHANGES

    graph = resources["graph"]
    day = date.fromisoformat(args.date)
    everywhere = graph_queries.assets_on_every_exchange(graph.query, day, EXCHANGES)
    print(f"Market graph in {Path(graph.db_path).resolve()}:")
    print(f"  graph: {graph_queries.market_count(graph.query, day)} markets on {args.date}")
    print(f"  assets on every exchange: {', '.join(everywhere)}")
    print(f"  ask it: uv run python -m {__package__}.graph_queries --date {args.date}")
    print(f"Dagster instance: {home}. Browse its runs with: uv run dg dev")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
