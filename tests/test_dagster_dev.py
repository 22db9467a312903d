"""`dagster dev` in a rendered project serves the UI with every asset, check, job, schedule and
sensor, the schedule and the automation sensor stopped until someone turns one on."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import installed_render, uv_bin, uv_environment

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("defaults")]

STARTUP_TIMEOUT_SECONDS = 180

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
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def test_dagster_dev_serves_the_whole_pipeline(tmp_path_factory, dagster_home: Path) -> None:
    project = installed_render("defaults", tmp_path_factory).path
    port = free_port()
    log = (project / "dagster-dev.log").open("w")
    server = subprocess.Popen(
        [
            *uv_bin(),
            "run",
            "--frozen",
            "dagster",
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=project,
        env=uv_environment() | {"DAGSTER_HOME": str(dagster_home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        data = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                data = graphql(port, QUERY)
                if data["assetNodes"]:
                    break
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                pass
            time.sleep(1)
        log.flush()
        assert data and data["assetNodes"], (project / "dagster-dev.log").read_text()[-5000:]

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
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
