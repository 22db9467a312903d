"""`make bench` end to end on a tiny frame: the suite runs and its outputs have their shape.

Timings are never asserted (they depend on the machine and its load); the numbers of record
come from `make bench` and live in docs/performance.md.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE_ROOT, installed_render, uv_environment

SECTIONS = {"duckdb", "filesystem", "s3_frames", "s3_dicts", "postgres", "kuzu", "iceberg"}


@pytest.mark.xdist_group("bench")
def test_benchmark_suite_runs_on_a_small_frame(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = installed_render("defaults", tmp_path_factory)
    results_file, markdown_file = tmp_path / "results.json", tmp_path / "performance.md"
    command = [sys.executable, "-m", "benchmarks.run", "--project", str(project.path)]
    command += ["--rows", "2000", "--repeats", "1", "--sample-rows", "200", "--backfill-days", "3"]
    command += ["--json", str(results_file), "--markdown", str(markdown_file)]
    completed = subprocess.run(
        command,
        cwd=TEMPLATE_ROOT,
        env=uv_environment(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-8000:]

    results = json.loads(results_file.read_text())
    assert results["rows"] == 2000
    assert {"cpu_count", "memory_gib", "python", "versions"} <= set(results["machine"])
    assert {"dagster", "polars", "duckdb", "kuzu", "psycopg"} <= set(results["machine"]["versions"])
    assert set(results["sections"]) == SECTIONS
    for name, section in results["sections"].items():
        roles = [contender["role"] for contender in section["contenders"]]
        assert roles.count("ours") == 1, name
        assert "raw" in roles and "peer" in roles, name
        ours = next(c for c in section["contenders"] if c["role"] == "ours")
        # Ours must work in every section; a peer may fail, and is then reported as failing.
        assert ours["write_s"] > 0 and ours["read_s"] > 0, (name, ours)
        for contender in section["contenders"]:
            assert contender["write_s"] is not None or contender["write_error"], contender
            if section["payload"] == "frame" and not contender["extrapolated"]:
                assert "memory" in contender or contender["write_error"], contender
    assert set(results["scaling"]["ratios_365_over_1"]) == set(results["scaling"]["backends"])
    backfill = results["backfill"]
    assert (backfill["year"]["days"], backfill["year"]["runs"]) == (3, 1)
    assert backfill["daemon"]["runs"] == 3 and backfill["year"]["peak_rss_bytes"] > 0
    assert results["startup"]["ratio"] > 0
    assert results["startup"]["heavy_modules_loaded"] == []

    markdown = markdown_file.read_text()
    for heading in ("# Performance", "## Machine and data", "## Targets", "## Results"):
        assert heading in markdown
    for section in results["sections"].values():
        assert f"### {section['title']}" in markdown
    for target in (
        "DuckDB write+read",
        "pandas to_sql",
        "raw COPY",
        "1.2x of raw polars",
        "Kuzu write within 1.5x of a raw COPY",
        "Iceberg write+read within 1.3x of raw pyiceberg",
    ):
        assert target in markdown
    assert "CREATE per row" in markdown and "365 existing" in markdown
    assert "## Backfills" in markdown and "backfills in one command" in markdown
