"""Backfills in the rendered project (replay mode): a year of days in one run, one day in one
run, and the daemon's per-day path (a job backfill, one run per day), each in a fresh instance
and data directory, as fresh processes, with their peak RSS.

Runs inside the render's environment (`benchmarks.suite`); the commands are the ones the
project's README teaches (`dg launch --job daily_market_data --partition-range A...B`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

JOB = "daily_market_data"
# Wraps a command: runs it, then prints the largest peak RSS (KiB) of any process it started.
PEAK_RSS = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)
DAEMON_TIMEOUT_S = 900
# Waits until the instance has argv[1] finished runs or argv[2] seconds passed; prints their
# statuses.
WAIT_FOR_RUNS = """
import json, sys, time
import dagster as dg
expected, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
with dg.DagsterInstance.get() as instance:
    while True:
        statuses = [run.status.value for run in instance.get_runs()]
        finished = all(s in {"SUCCESS", "FAILURE", "CANCELED"} for s in statuses)
        if (len(statuses) == expected and finished) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
print(json.dumps(statuses))
"""


def _workspace(root: Path) -> dict[str, str]:
    """A fresh instance and data directory; no .env in the working directory to override them."""
    home, data = root / "home", root / "data"
    home.mkdir(parents=True)
    data.mkdir()
    project = Path.cwd()
    shutil.copy(project / "deploy" / "dev" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_ENV"}}
    return env | {"DAGSTER_HOME": str(home), "DATA_DIR": str(data), "EXCHANGE_MODE": "replay"}


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) of the largest process, and the output of `command`."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(
            f"{' '.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    peak_kib = int(result.stderr.strip().splitlines()[-1])
    return seconds, peak_kib * 1024, result.stdout + result.stderr


def _launch(package: str, partitions: list[str], root: Path) -> dict[str, Any]:
    env = _workspace(root)
    option = (
        ["--partition", partitions[0]]
        if len(partitions) == 1
        else ["--partition-range", f"{partitions[0]}...{partitions[-1]}"]
    )
    command = ["dg", "launch", "--job", JOB, *option, "-m", f"{package}.definitions"]
    seconds, peak, output = _timed(command, root, env)
    runs = output.count("RUN_SUCCESS")
    if runs != 1:
        raise RuntimeError(f"expected one successful run, saw {runs}:\n{output[-3000:]}")
    return {"days": len(partitions), "seconds": seconds, "peak_rss_bytes": peak, "runs": runs}


def _daemon_path(package: str, partitions: list[str], root: Path) -> dict[str, Any]:
    """A job backfill through the daemon: one queued run per day, each its own processes."""
    env = _workspace(root)
    target = ["-m", f"{package}.definitions"]
    # Create the instance's storage before two processes open it: the daemon and the CLI
    # creating a fresh SQLite storage at once both stamp its schema version (two alembic heads).
    subprocess.run(
        [sys.executable, "-c", "import dagster as dg; dg.DagsterInstance.get().get_runs()"],
        cwd=root,
        env=env,
        check=True,
    )
    daemon = subprocess.Popen(
        ["dagster-daemon", "run", *target],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        started = time.perf_counter()
        command = ["dagster", "job", "backfill", "-j", JOB, "--partitions", ",".join(partitions)]
        submitted = subprocess.run(
            [*command, "--noprompt", *target],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if submitted.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited with {submitted.returncode}:\n"
                + (submitted.stdout + submitted.stderr)[-4000:]
            )
        # One process waits for the runs (a fresh process per poll would import Dagster each
        # second and take a core from the runs it measures).
        waited = subprocess.run(
            [sys.executable, "-c", WAIT_FOR_RUNS, str(len(partitions)), str(DAEMON_TIMEOUT_S)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if waited.returncode != 0:
            raise RuntimeError(f"waiting for the daemon's runs failed:\n{waited.stderr[-4000:]}")
        statuses: list[str] = json.loads(waited.stdout.strip().splitlines()[-1])
        seconds = time.perf_counter() - started
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
    if statuses != ["SUCCESS"] * len(partitions):
        raise RuntimeError(f"daemon backfill did not succeed: {statuses}")
    return {"days": len(partitions), "seconds": seconds, "runs": len(statuses)}


# Planned-materialization events per round of the event-log comparison: a year's backfill of
# the default answers records 3,650 of them before its first step, and as many materializations.
EVENTS_PER_ROUND = 1000
EVENT_ROUNDS = 3


def _event_log(package: str) -> dict[str, Any]:
    """Milliseconds per asset event: Dagster's SQLite event log against the dev instance's
    (the same files, connections kept open), interleaved rounds in fresh directories."""
    import importlib

    import dagster as dg
    from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent
    from dagster._core.events.log import EventLogEntry
    from dagster._core.storage.event_log import SqliteEventLogStorage

    pooled = importlib.import_module(f"{package}.instance_storage").PooledSqliteEventLogStorage

    def events(run_id: str) -> list[EventLogEntry]:
        return [
            EventLogEntry(
                error_info=None,
                level=10,
                user_message="",
                run_id=run_id,
                timestamp=time.time(),
                job_name=JOB,
                dagster_event=DagsterEvent.build_asset_materialization_planned_event(
                    JOB,
                    "step",
                    AssetMaterializationPlannedData(
                        dg.AssetKey(["bench", f"asset_{n % 10}"]), partition=f"day-{n // 10}"
                    ),
                ),
            )
            for n in range(EVENTS_PER_ROUND)
        ]

    contenders = {
        "dagster": lambda home: SqliteEventLogStorage(str(Path(home) / "history" / "runs")),
        "ours": lambda home: pooled(instance_dir=home),
    }
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for round_number in range(EVENT_ROUNDS):
        for name, build in contenders.items():
            with tempfile.TemporaryDirectory(prefix="bench-events-") as home:
                storage = build(home)
                batch = events(f"run-{round_number}")
                started = time.perf_counter()
                for event in batch:
                    storage.store_event(event)
                timings[name].append((time.perf_counter() - started) / len(batch))
                storage.dispose()
    per_event = {name: sorted(values)[len(values) // 2] for name, values in timings.items()}
    return {
        "events_per_round": EVENTS_PER_ROUND,
        "rounds": EVENT_ROUNDS,
        "dagster_ms_per_event": per_event["dagster"] * 1000,
        "ours_ms_per_event": per_event["ours"] * 1000,
        "dagster_over_ours": per_event["dagster"] / per_event["ours"],
    }


def backfill(
    package: str, start: str, year_days: int = 365, daemon_days: int = 3
) -> dict[str, Any]:
    first = dt.date.fromisoformat(start)
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range(year_days)]
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as scratch:
        root = Path(scratch)
        print(f"[bench] backfill: {year_days} days in one run", file=sys.stderr, flush=True)
        year = _launch(package, days, root / "year")
        print("[bench] backfill: one day in one run", file=sys.stderr, flush=True)
        one_day = _launch(package, days[:1], root / "day")
        print(
            f"[bench] backfill: {daemon_days} days through the daemon", file=sys.stderr, flush=True
        )
        daemon = _daemon_path(package, days[:daemon_days], root / "daemon")
    print("[bench] backfill: the event log, Dagster's SQLite and ours", file=sys.stderr, flush=True)
    event_log = _event_log(package)
    per_day_in_year = year["seconds"] / year["days"]
    per_day_daemon = daemon["seconds"] / daemon["days"]
    return {
        "year": year,
        "one_day": one_day,
        "daemon": daemon,
        "event_log": event_log,
        "per_day_in_year_s": per_day_in_year,
        "per_day_in_year_over_one_day": per_day_in_year / one_day["seconds"],
        "per_day_daemon_over_one_day": per_day_daemon / one_day["seconds"],
        "year_over_daemon_per_day": year["seconds"] / per_day_daemon,
    }
