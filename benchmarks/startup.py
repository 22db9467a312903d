"""Start-up: importing the code location against a bare `import dagster`, in fresh processes."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

# Libraries the code location should import only where they are used.
HEAVY_MODULES = (
    "ccxt",
    "boto3",
    "botocore",
    "kuzu",
    "psycopg",
    "duckdb",
    "sqlalchemy",
    "pandas",
    "matplotlib",
    "PIL",
    "pyiceberg",
    "opentelemetry",
    "sqlglot",
)


def _seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def startup(package: str, repeats: int) -> dict[str, Any]:
    location = f"import {package}.definitions"
    cases = {"import dagster": "import dagster", location: location}
    for code in cases.values():
        _seconds(code)  # warm the file-system cache and bytecode
    timings: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(max(repeats, 5)):
        for label, code in cases.items():
            timings[label].append(_seconds(code))
    probe = (
        f"import json, sys\n{location}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))"
    )
    loaded = (
        subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    medians = {label: statistics.median(values) for label, values in timings.items()}
    return {
        "bare_dagster_s": medians["import dagster"],
        "code_location_s": medians[location],
        "ratio": medians[location] / medians["import dagster"],
        "statement": location,
        "heavy_modules_loaded": json.loads(loaded),
        "heavy_modules_checked": list(HEAVY_MODULES),
        "samples": len(timings[location]),
    }
