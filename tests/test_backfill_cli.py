"""The README's history command: a range of days in one run, stored as its days one by one."""

import json
import shlex

import pytest
from conftest import installed_render, run_uv

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("defaults")]


def test_the_readme_range_command_loads_the_first_month_in_one_run(tmp_path_factory) -> None:
    render = installed_render("defaults", tmp_path_factory)
    readme = (render.path / "README.md").read_text()
    block = readme.split("## Loading history", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    (command,) = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert command == (
        "uv run dg launch --job daily_market_data --partition-range 2024-01-01...2024-01-31"
    )
    words = shlex.split(command)
    result = run_uv(render.path, "run", "--frozen", *words[2:])
    output = result.stdout + result.stderr
    # One run for the month, not one per day.
    assert output.count("RUN_SUCCESS") == 1, output[-3000:]

    days = [f"2024-01-{day:02d}" for day in range(1, 32)]
    raw = render.path / "data" / "raw"
    for day in days:
        payload = json.loads((raw / "binance_ohlcv" / f"date={day}" / "data.json").read_text())
        assert [len(entry["ohlcv"]) for entry in payload["data"]] == [24, 24], day
        markets = json.loads((raw / "binance_markets" / f"date={day}" / "data.json").read_text())
        assert markets["metadata"]["snapshot_day"] == day
    # The warehouse, read with the project's own duckdb.
    count_rows = (
        "import duckdb, json; db = duckdb.connect('data/crypto.duckdb', read_only=True); "
        "db.execute(\"SET TimeZone = 'UTC'\"); print(json.dumps({t: dict(db.execute("
        "f\"SELECT strftime(ts, '%Y-%m-%d'), count(*) FROM market.{t} GROUP BY 1\").fetchall()) "
        "for t in ('ohlcv', 'ohlcv_features')}))"
    )
    counted = json.loads(run_uv(render.path, "run", "--frozen", "python", "-c", count_rows).stdout)
    for table, per_day in counted.items():
        month = {day: rows for day, rows in per_day.items() if day.startswith("2024-01")}
        assert month == dict.fromkeys(days, 48), table
