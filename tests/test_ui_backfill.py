"""A backfill launched the way Dagster's UI launches it, on a default render served by `dg dev`
(webserver and daemon): every asset over three days, the graph multi-asset included, completes
with every run and every asset partition succeeded, and every check passed. With
`BACKFILL_MAX_DAYS_PER_RUN` set in settings.py, the daemon splits the range into runs of at most
that many days."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ANSWER_SETS, UI_READY_QUERY, graphql, render, run_uv, ui_server

# Its own render and group: the backfill writes runs and data that the "defaults" tests'
# render must not see, and the two groups run side by side under `--dist loadgroup`.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui_backfill")]

DAYS = ["2024-01-02", "2024-01-03", "2024-01-04"]
CHUNKED_DAYS = ["2024-01-05", "2024-01-06", "2024-01-07"]
MAX_DAYS_PER_RUN = 2
BACKFILL_TIMEOUT_SECONDS = 480

# The mutation and parameters of the UI's "Materialize..." dialog for assets that share a
# partitions definition (LaunchAssetChoosePartitionsDialog.tsx, Dagster 1.13).
LAUNCH = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      error { message }
      assetBackfillData {
        assetBackfillStatuses {
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsInProgress
            numPartitionsMaterialized
            numPartitionsFailed
          }
        }
      }
      runs { runId status tags { key value } }
    }
    ... on PythonError { message }
  }
}
"""

CHECKS = """
{
  assetNodes {
    assetKey { path }
    assetChecksOrError {
      ... on AssetChecks { checks { name executionForLatestMaterialization { status } } }
    }
  }
}
"""

FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default render of its own, installed."""
    path = tmp_path_factory.mktemp("render-ui-backfill") / "project"
    render(path, ANSWER_SETS["defaults"])
    run_uv(path, "sync", "--quiet")
    return path


@pytest.fixture
def dg_dev(project: Path, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`uv run dg dev` in the render (webserver and daemon, the dev instance of its .env): its
    port once the code location is loaded, and its log."""
    log_path = tmp_path / "dg-dev.log"
    with ui_server(project, ["dg", "dev"], log_path) as port:
        yield port, log_path


@pytest.fixture
def chunked_settings(project: Path) -> Iterator[None]:
    """settings.py of the render with `BACKFILL_MAX_DAYS_PER_RUN = 2`, restored afterwards."""
    settings = project / "src" / "dagster_crypto_data" / "settings.py"
    original = settings.read_text()
    default = "BACKFILL_MAX_DAYS_PER_RUN: int | None = None"
    assert default in original
    settings.write_text(
        original.replace(default, f"BACKFILL_MAX_DAYS_PER_RUN: int | None = {MAX_DAYS_PER_RUN}")
    )
    try:
        yield
    finally:
        settings.write_text(original)


def launch_backfill(port: int, asset_keys: list[dict[str, Any]], days: list[str]) -> str:
    """The UI's "Materialize..." dialog over `days`: the backfill's id."""
    launched = graphql(
        port,
        LAUNCH,
        {
            "backfillParams": {
                "tags": [{"key": "dagster/from_ui", "value": "true"}],
                "assetSelection": [{"path": key["path"]} for key in asset_keys],
                "partitionNames": days,
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def assert_every_partition_materialized(
    backfill: dict[str, Any], asset_keys: list[dict[str, Any]], days: list[str], log: str
) -> None:
    runs = backfill["runs"]
    assert runs, backfill
    assert [run for run in runs if run["status"] != "SUCCESS"] == [], log[-4000:]
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    statuses = {
        "/".join(status["assetKey"]["path"]): status
        for status in backfill["assetBackfillData"]["assetBackfillStatuses"]
    }
    assert set(statuses) == {"/".join(key["path"]) for key in asset_keys}
    for key, status in statuses.items():
        counts = (
            status["numPartitionsTargeted"],
            status["numPartitionsMaterialized"],
            status["numPartitionsFailed"],
            status["numPartitionsInProgress"],
        )
        assert counts == (len(days), len(days), 0, 0), (key, status)


def run_days(run: dict[str, Any]) -> tuple[str, str]:
    """First and last day of a backfill run, from its partition tags."""
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    return tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]


def wait_for_backfill(port: int, backfill_id: str, log_path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_SECONDS
    while True:
        backfill = graphql(port, BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in FINISHED:
            return backfill
        assert time.monotonic() < deadline, (
            f"backfill {backfill_id} still {backfill['status']} after "
            f"{BACKFILL_TIMEOUT_SECONDS} s: {json.dumps(backfill, indent=1)[:4000]}\n"
            + log_path.read_text()[-4000:]
        )
        time.sleep(2)


def test_a_ui_backfill_of_every_asset_over_three_days_succeeds(dg_dev: tuple[int, Path]) -> None:
    port, log_path = dg_dev
    asset_keys = [node["assetKey"] for node in graphql(port, UI_READY_QUERY)["assetNodes"]]
    assert {"graph/market", "graph/lists", "raw/binance_markets"} <= {
        "/".join(key["path"]) for key in asset_keys
    }

    started = time.monotonic()
    backfill = wait_for_backfill(port, launch_backfill(port, asset_keys, DAYS), log_path)
    elapsed = time.monotonic() - started
    print(f"backfill of {len(asset_keys)} assets over {len(DAYS)} days: {elapsed:.0f} s")
    assert_every_partition_materialized(backfill, asset_keys, DAYS, log_path.read_text())
    # The default policy: every run covers the whole range.
    assert {run_days(run) for run in backfill["runs"]} == {(DAYS[0], DAYS[-1])}

    checks = {
        ("/".join(node["assetKey"]["path"]), check["name"]): check[
            "executionForLatestMaterialization"
        ]
        for node in graphql(port, CHECKS)["assetNodes"]
        for check in node["assetChecksOrError"].get("checks", [])
    }
    assert ("graph/market", "market_graph_integrity") in checks
    failed = {
        key: execution
        for key, execution in checks.items()
        if execution is None or execution["status"] != "SUCCEEDED"
    }
    assert failed == {}, failed


def test_a_backfill_longer_than_the_run_limit_in_settings_runs_in_chunks(
    chunked_settings: None, dg_dev: tuple[int, Path]
) -> None:
    port, log_path = dg_dev
    asset_keys = [node["assetKey"] for node in graphql(port, UI_READY_QUERY)["assetNodes"]]
    backfill = wait_for_backfill(port, launch_backfill(port, asset_keys, CHUNKED_DAYS), log_path)
    assert_every_partition_materialized(backfill, asset_keys, CHUNKED_DAYS, log_path.read_text())
    # Three days with at most two per run: runs of the first two days and of the third.
    assert {run_days(run) for run in backfill["runs"]} == {
        (CHUNKED_DAYS[0], CHUNKED_DAYS[1]),
        (CHUNKED_DAYS[2], CHUNKED_DAYS[2]),
    }
