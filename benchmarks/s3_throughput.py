"""Throughput of S3IOManager against raw boto3 on the same local S3 server (SeaweedFS).

Run it with the Python of a rendered project (it imports the generated package):

    make dev-render DEST=/tmp/render
    cd /tmp/render && uv run python /path/to/template/benchmarks/s3_throughput.py

A 1M-row OHLCV-like frame goes through S3IOManager (Parquet encode + upload, download +
decode). Peers, measured in the same run and rounds: raw boto3 put_object/get_object of the same
Parquet bytes ("raw": transfer only), and boto3 plus the polars encode/decode a hand-written
pipeline needs ("peer"). Rates are Parquet megabytes (10^6 bytes) per second, medians of
interleaved rounds; compare the ratios across machines, not the absolute numbers.
TEST_S3_ENDPOINT (+ keys) selects another server than the throwaway SeaweedFS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import io
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

import dagster as dg
import polars as pl


def ohlcv_frame(rows: int) -> pl.DataFrame:
    """Deterministic pseudo-random candles: 10 symbols, 1-minute steps, float64 prices."""
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    index = pl.int_range(rows, eager=True)
    noise = (index.hash(seed=1) % 2_000_001).cast(pl.Float64) / 1_000_000 - 1.0
    close = 40_000 + noise.cum_sum() * 10
    symbols = [f"SYM{i}/USDT" for i in range(10)]
    return pl.DataFrame(
        {
            "ts": pl.datetime_range(
                start,
                start + dt.timedelta(minutes=rows - 1),
                interval="1m",
                time_unit="ms",
                time_zone="UTC",
                eager=True,
            ),
            "symbol": pl.Series([symbols[i % 10] for i in range(rows)]),
            "open": close - noise,
            "high": close + noise.abs() * 3,
            "low": close - noise.abs() * 3,
            "close": close,
            "volume": ((index.hash(seed=2) % 100_000).cast(pl.Float64) / 100),
        }
    )


def interleaved_medians(actions: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median seconds of each action; one round runs every action once, so load drift on a
    shared machine hits all of them alike."""
    timings: dict[str, list[float]] = {label: [] for label in actions}
    for _ in range(repeat):
        for label, action in actions.items():
            started = time.perf_counter()
            action()
            timings[label].append(time.perf_counter() - started)
    return {label: statistics.median(values) for label, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="dagster_crypto_data")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    arguments = parser.parse_args()
    s3_module = importlib.import_module(f"{arguments.package}.io_managers.s3")
    server_module = importlib.import_module(f"{arguments.package}.testing.s3_server")

    frame = ohlcv_frame(arguments.rows)
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    parquet = buffer.getvalue()
    megabytes = len(parquet) / 1e6
    key = ["market", "ohlcv"]

    with server_module.s3_server() as server, dg.build_resources({}) as resources:
        bucket = f"bench-{secrets.token_hex(6)}"
        client = server.client()
        client.create_bucket(Bucket=bucket)
        raw_key = "raw/ohlcv.parquet"
        client.put_object(Bucket=bucket, Key=raw_key, Body=parquet)

        def manager(threshold_mb: int) -> Any:
            io_manager = s3_module.S3IOManager(
                endpoint_url=server.endpoint_url,
                access_key=server.access_key,
                secret_key=server.secret_key,
                region=server.region,
                bucket=bucket,
                multipart_threshold_mb=threshold_mb,
                multipart_chunksize_mb=8,
            )
            io_manager.handle_output(output_context(), frame)  # warm-up: bucket check, client
            assert io_manager.load_input(input_context).equals(frame)
            return io_manager

        # Contexts are built outside the timed code: an input context builds its own ephemeral
        # Dagster instance (about 0.3 s), which is not IO manager work.
        def output_context() -> Any:
            return dg.build_output_context(asset_key=key, resources=resources)

        upstream = output_context()
        input_context = dg.build_input_context(asset_key=key, upstream_output=upstream)
        single, multipart = manager(64), manager(5)
        outputs = [output_context() for _ in range(2 * arguments.repeat)]

        def encoded() -> bytes:
            output = io.BytesIO()
            frame.write_parquet(output)
            return output.getvalue()

        uploads = interleaved_medians(
            {
                "raw boto3 put_object (bytes only)": lambda: client.put_object(
                    Bucket=bucket, Key=raw_key, Body=parquet
                ),
                "boto3 + polars (encode, put_object)": lambda: client.put_object(
                    Bucket=bucket, Key=raw_key, Body=encoded()
                ),
                "S3IOManager, one PUT": lambda: single.handle_output(outputs.pop(), frame),
                "S3IOManager, multipart 8 MiB parts": lambda: multipart.handle_output(
                    outputs.pop(), frame
                ),
                "polars encode alone (no I/O)": encoded,
            },
            arguments.repeat,
        )
        downloads = interleaved_medians(
            {
                "raw boto3 get_object (bytes only)": lambda: client.get_object(
                    Bucket=bucket, Key=raw_key
                )["Body"].read(),
                "boto3 + polars (get_object, decode)": lambda: pl.read_parquet(
                    io.BytesIO(client.get_object(Bucket=bucket, Key=raw_key)["Body"].read())
                ),
                "S3IOManager, one GET": lambda: single.load_input(input_context),
                "S3IOManager, ranged GETs 8 MiB": lambda: multipart.load_input(input_context),
                "polars decode alone (no I/O)": lambda: pl.read_parquet(io.BytesIO(parquet)),
            },
            arguments.repeat,
        )
        input_context.__exit__(None, None, None)

    print(
        f"{arguments.rows:,} rows, {frame.estimated_size() / 1e6:.0f} MB in memory, "
        f"{megabytes:.1f} MB of Parquet; {server.endpoint_url}; median of {arguments.repeat}"
    )
    for direction, results in (("upload", uploads), ("download", downloads)):
        raw, peer = list(results.values())[:2]
        print(f"\n{direction:40} {'seconds':>8} {'MB/s':>7} {'vs raw':>7} {'vs peer':>8}")
        for label, seconds in results.items():
            print(
                f"{label:40} {seconds:8.3f} {megabytes / seconds:7.1f} "
                f"{raw / seconds:6.2f}x {peer / seconds:7.2f}x"
            )


if __name__ == "__main__":
    main()
