"""The UI of a rendered project: `dg dev` (and `dagster dev`) serve every asset, check, job,
schedule and sensor (the schedule and the automation sensor stopped until someone turns one on),
and the runs the demo launched, from the dev instance `.env` names (no variable set by hand)."""

import json
import os
import re
from pathlib import Path

import pytest
from conftest import (
    Render,
    assert_no_outdated_warning,
    graphql,
    installed_render,
    run_uv,
    ui_server,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("defaults")]

DEMO_DAY = "2024-01-02"

QUERY = """
{
  assetNodes {
    assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        jobs { name }
        schedules { name cronSchedule scheduleState { status } }
        sensors { name sensorType sensorState { status } }
      }
    }
  }
  runsOrError { ... on Runs { results { runId status tags { key value } } } }
  instance { runQueuingSupported info }
}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Render, str]:
    """The README's demo, run once in the default render: the render and the demo's run id."""
    render = installed_render("defaults", tmp_path_factory)
    env = {k: v for k, v in os.environ.items() if k in {"DAGSTER_HOME", "DAGSTER_ENV"}}
    assert not env, f"the demo must need no variable set by hand, yet {sorted(env)} are set"
    # EXCHANGE_MODE=live in the shell (unset in .env): the demo still replays, offline.
    result = run_uv(
        render.path,
        "run",
        "--frozen",
        "python",
        "-m",
        f"{render.package}.demo",
        "--date",
        DEMO_DAY,
        EXCHANGE_MODE="live",
    )
    assert f"market.ohlcv: 48 rows on {DEMO_DAY}" in result.stdout, result.stdout
    assert f"market.ohlcv_features: 48 rows on {DEMO_DAY}" in result.stdout
    assert f"graph: 12 markets on {DEMO_DAY}" in result.stdout
    raw = render.path / "data" / "raw" / "binance_ohlcv" / f"date={DEMO_DAY}" / "data.json"
    assert json.loads(raw.read_text())["metadata"]["mode"] == "replay"
    instance = (render.path / ".dagster_home").resolve()
    assert f"Dagster instance: {instance}. Browse its runs with: uv run dg dev" in result.stdout
    found = re.search(rf"Materialized {DEMO_DAY} \(run ([0-9a-f-]{{36}})\)", result.stdout)
    assert found, result.stdout
    return render, found.group(1)


def serve(project: Path, command: list[str], log_path: Path) -> dict:
    """Start the UI with `command`, return the QUERY's answer once the code location is loaded."""
    with ui_server(project, command, log_path) as port:
        return graphql(port, QUERY)


def assert_serves_the_whole_pipeline(data: dict) -> None:
    assets = {"/".join(node["assetKey"]["path"]): node for node in data["assetNodes"]}
    assert set(assets) == {
        "raw/binance_ohlcv",
        "raw/binance_markets",
        "market/ohlcv",
        "market/ohlcv_features",
        "graph/exchange",
        "graph/asset",
        "graph/market",
        "graph/lists",
        "graph/base",
        "graph/quote",
    }
    checks = {check["name"] for check in assets["market/ohlcv"]["assetChecksOrError"]["checks"]}
    assert checks == {"ohlc_consistency", "unique_candles", "no_missing_candles"}
    graph_checks = assets["graph/market"]["assetChecksOrError"]["checks"]
    assert {check["name"] for check in graph_checks} == {
        "market_graph_integrity",
        "configured_symbols_listed",
    }
    (repository,) = data["repositoriesOrError"]["nodes"]
    assert "daily_market_data" in {job["name"] for job in repository["jobs"]}
    assert repository["schedules"] == [
        {
            "name": "daily_market_data_schedule",
            "cronSchedule": "10 0 * * *",
            "scheduleState": {"status": "STOPPED"},
        }
    ]
    # The project's automation sensor, and no default one beside it.
    assert repository["sensors"] == [
        {
            "name": "daily_market_data_automation",
            "sensorType": "AUTO_MATERIALIZE",  # an automation condition sensor
            "sensorState": {"status": "STOPPED"},
        }
    ]


def assert_serves_the_dev_instance(data: dict, demo_run_id: str) -> None:
    runs = {run["runId"]: run for run in data["runsOrError"]["results"]}
    assert demo_run_id in runs, f"the demo's run is not in the served instance: {sorted(runs)}"
    assert runs[demo_run_id]["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": DEMO_DAY} in runs[demo_run_id]["tags"]
    # deploy/dev/dagster.yaml: the queued run coordinator, one writer per pool, telemetry off.
    instance = data["instance"]
    assert instance["runQueuingSupported"]
    assert "QueuedRunCoordinator" in instance["info"]
    assert re.search(r"default_limit: 1", instance["info"]), instance["info"]
    assert re.search(r"telemetry:\s*\n\s*enabled: false", instance["info"]), instance["info"]


def test_dg_dev_serves_the_pipeline_and_the_demos_runs(demo, tmp_path: Path) -> None:
    render, demo_run_id = demo
    log = tmp_path / "dg-dev.log"
    data = serve(render.path, ["dg", "dev"], log)
    assert_serves_the_whole_pipeline(data)
    assert_serves_the_dev_instance(data, demo_run_id)
    assert_no_outdated_warning("uv run dg dev", log.read_text())
    assert "Using temporary directory" not in log.read_text()


def test_dagster_dev_still_serves_the_same_instance(demo, tmp_path: Path) -> None:
    # The README teaches `dg dev`; `dagster dev` keeps working for users and older docs, with
    # Dagster 1.13's own notice that it is superseded by `dg dev` (and nothing else outdated).
    render, demo_run_id = demo
    log = tmp_path / "dagster-dev.log"
    data = serve(render.path, ["dagster", "dev"], log)
    assert_serves_the_whole_pipeline(data)
    assert_serves_the_dev_instance(data, demo_run_id)
    output = log.read_text()
    assert "Use 'dg dev' instead" in output
    assert_no_outdated_warning(
        "uv run dagster dev",
        "\n".join(line for line in output.splitlines() if "dg dev" not in line),
    )
