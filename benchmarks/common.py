"""Shared pieces of the benchmark suite: data, contexts, interleaved timing, peak memory.

Runs inside a rendered project (it imports the generated package by name), with the peers added
for the run only (see benchmarks/run.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import importlib
import json
import os
import statistics
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import dagster as dg
import polars as pl

SYMBOLS = [f"{base}/USDT" for base in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "TRX")]
SYMBOLS += ["AVAX/USDT", "LINK/USDT"]
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAY_ROWS = 1440 * len(SYMBOLS)  # one day of 1-minute candles for every symbol
DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01")
PARTITION_COLUMN = "ts"


def package_module(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


# ---------------------------------------------------------------------------- data


def ohlcv_frame(rows: int, start: dt.datetime = START) -> pl.DataFrame:
    """Deterministic 1-minute candles of ten symbols (one row per symbol and minute)."""
    index = pl.int_range(rows, eager=True)
    minute = index // len(SYMBOLS)
    noise = (index.hash(seed=1) % 2_000_001).cast(pl.Float64) / 1_000_000 - 1.0
    close = 40_000 + noise.cum_sum() * 10
    timestamps = (
        pl.select(
            pl.lit(start).dt.cast_time_unit("ms") + pl.duration(minutes=minute, time_unit="ms")
        )
        .to_series()
        .alias("ts")
    )
    return pl.DataFrame(
        {
            "ts": timestamps,
            "symbol": pl.Series(SYMBOLS).gather(index % len(SYMBOLS)),
            "open": close - noise,
            "high": close + noise.abs() * 3,
            "low": close - noise.abs() * 3,
            "close": close,
            "volume": (index.hash(seed=2) % 100_000).cast(pl.Float64) / 100,
        }
    )


def day_frame(day: int, rows_per_day: int) -> pl.DataFrame:
    """`rows_per_day` (at most DAY_ROWS) candles spread over calendar day `day` (0 = 2024-01-01)."""
    minutes = -(-rows_per_day // len(SYMBOLS))
    step = max(1, 1440 // minutes)
    frame = ohlcv_frame(rows_per_day, START + dt.timedelta(days=day))
    minute = pl.int_range(rows_per_day) // len(SYMBOLS) * step
    return frame.with_columns(
        ts=pl.lit(START + dt.timedelta(days=day)).dt.cast_time_unit("ms")
        + pl.duration(minutes=minute, time_unit="ms")
    )


def day_key(day: int) -> str:
    return (START + dt.timedelta(days=day)).date().isoformat()


def raw_payload(records: int) -> dict[str, Any]:
    """An extract payload as the exchange sends it: Binance klines, numbers as strings."""
    opened = int(START.timestamp() * 1000)
    klines = [
        [
            opened + i * 60_000,
            f"{40_000 + i % 997 * 0.37:.2f}",
            f"{40_010 + i % 991 * 0.41:.2f}",
            f"{39_990 + i % 983 * 0.29:.2f}",
            f"{40_000 + i % 977 * 0.33:.2f}",
            f"{(i % 10_007) / 7:.5f}",
            opened + i * 60_000 + 59_999,
            f"{(i % 10_009) * 5.5:.4f}",
            i % 5000,
            f"{(i % 1013) / 3:.5f}",
            f"{(i % 1019) * 1.7:.4f}",
            "0",
        ]
        for i in range(records)
    ]
    return {
        "data": [{"symbol": "BTC/USDT", "timeframe": "1m", "klines": klines}],
        "metadata": {"exchange": "binance", "day": "2024-01-01", "records": records},
    }


# ---------------------------------------------------------------------------- contexts


@contextlib.contextmanager
def dagster_resources() -> Iterator[Any]:
    with dg.build_resources({}) as resources:
        yield resources


def dagster_type(python_type: type) -> dg.DagsterType:
    """The type Dagster gives an output annotated with `python_type` (peers route on it)."""
    return dg.PythonObjectDagsterType(python_type)


def output_context(
    key: list[str],
    resources: Any,
    *,
    partition: str | None = None,
    metadata: dict[str, Any] | None = None,
    python_type: type = pl.DataFrame,
    resource_config: dict[str, Any] | None = None,
) -> dg.OutputContext:
    return dg.build_output_context(
        asset_key=key,
        resource_config=resource_config,
        dagster_type=dagster_type(python_type),
        partition_key=partition,
        asset_partitions_def=DAILY if partition is not None else None,
        definition_metadata=metadata or {},
        resources=resources,
    )


def input_context(
    key: list[str],
    resources: Any,
    *,
    partition: str | None = None,
    metadata: dict[str, Any] | None = None,
    python_type: type = pl.DataFrame,
    resource_config: dict[str, Any] | None = None,
) -> dg.InputContext:
    """An input context. Building one costs about 0.3 s (an ephemeral instance): build it once,
    outside timed code."""
    upstream = output_context(
        key,
        resources,
        partition=partition,
        metadata=metadata,
        python_type=python_type,
        resource_config=resource_config,
    )
    return dg.build_input_context(
        asset_key=key,
        resource_config=resource_config,
        dagster_type=dagster_type(python_type),
        upstream_output=upstream,
        partition_key=partition,
        asset_partitions_def=DAILY if partition is not None else None,
    )


# ---------------------------------------------------------------------------- timing


@dataclass
class Contender:
    """One way to store the data: ours, a peer, or the raw physical reference."""

    name: str
    role: str  # "ours", "peer" or "raw"
    write: Callable[[], Any]
    read: Callable[[], Any] | None = None
    note: str = ""
    # Measured on a sample, scaled linearly to the full row count.
    scale: float = 1.0
    read_scale: float = 1.0
    write_seconds: list[float] = field(default_factory=list)
    read_seconds: list[float] = field(default_factory=list)
    write_error: str | None = None
    read_error: str | None = None
    check: Callable[[Any], None] | None = None

    def result(self) -> dict[str, Any]:
        def median(values: list[float], scale: float = 1.0) -> float | None:
            return statistics.median(values) * scale if values else None

        write = None if self.write_error else median(self.write_seconds, self.scale)
        read = None
        if self.read is not None and not self.read_error:
            read = median(self.read_seconds, self.read_scale)
        return {
            "name": self.name,
            "role": self.role,
            "note": self.note,
            "write_s": write,
            "read_s": read,
            "total_s": write + read if write is not None and read is not None else None,
            "write_error": self.write_error,
            "read_error": self.read_error,
            "extrapolated": self.scale != 1.0 or self.read_scale != 1.0,
            "samples": len(self.write_seconds),
        }


def describe_error(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:160]}"


def run_interleaved(contenders: list[Contender], repeats: int, *, warmup: bool = True) -> None:
    """Time each contender's write and read; each round runs every contender once, so load
    drift on a shared machine hits them alike, and each round starts one contender later, so
    none always follows the same one (e.g. into another's disk writeback). The first (warm-up)
    round is not counted: it pays imports, client creation and first-touch page faults."""
    for round_number in range(repeats + (1 if warmup else 0)):
        counted = round_number > 0 or not warmup
        start = round_number % len(contenders)
        for contender in contenders[start:] + contenders[:start]:
            if contender.write_error is None:
                seconds = _timed(contender.write)
                if isinstance(seconds, BaseException):
                    contender.write_error = describe_error(seconds)
                elif counted:
                    contender.write_seconds.append(seconds)
            if contender.read is not None and contender.read_error is None:
                seconds = _timed(contender.read, contender.check)
                if isinstance(seconds, BaseException):
                    contender.read_error = describe_error(seconds)
                elif counted:
                    contender.read_seconds.append(seconds)


def _timed(action: Callable[[], Any], check: Callable[[Any], None] | None = None) -> Any:
    gc.collect()
    started = time.perf_counter()
    try:
        value = action()
    except Exception as error:  # noqa: BLE001 - a failing peer is reported, not fatal
        traceback.print_exc()
        return error
    elapsed = time.perf_counter() - started
    if check is not None:
        try:
            check(value)
        except Exception as error:  # noqa: BLE001 - reported with the timings
            traceback.print_exc()
            return error
    return elapsed


def same_rows(expected: pl.DataFrame) -> Callable[[Any], None]:
    """A read check: the loaded frame has the rows and columns that were written."""

    def check(loaded: Any) -> None:
        frame = loaded.collect() if isinstance(loaded, pl.LazyFrame) else loaded
        if not isinstance(frame, pl.DataFrame):
            frame = pl.from_pandas(frame) if hasattr(frame, "to_numpy") else pl.from_arrow(frame)
        if frame.shape != expected.shape or set(frame.columns) != set(expected.columns):
            raise AssertionError(f"read back {frame.shape}, expected {expected.shape}")

    return check


# ---------------------------------------------------------------------------- peak memory


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def measure_peak_rss(action: Callable[[], Any]) -> int:
    """Bytes the peak resident set grows by during `action`, above the RSS just before it.

    Linux: the high-water mark (VmHWM) is reset to the current RSS first (clear_refs 5), so
    earlier peaks of the process (building the frame) do not mask the write's own peak.
    """
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    baseline = _status_kib("VmRSS")
    action()
    return (_status_kib("VmHWM") - baseline) * 1024


def write_json(path: str, payload: Any) -> None:
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=2, default=str)
        handle.write("\n")


def environment_flag(name: str) -> bool:
    return os.environ.get(name, "") not in {"", "0"}
