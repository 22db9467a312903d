"""The dg commands the generated README and the IO managers' error hints teach, run as taught."""

import json
import re
import shlex
from pathlib import Path

import pytest
from conftest import Render, installed_render, run_uv

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("defaults")]


def readme_commands(render: Render) -> list[str]:
    """The `uv run dg ...` lines of the README's dg section, comments stripped."""
    section = (render.path / "README.md").read_text().split("## The dg CLI", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def run_taught(render: Render, command: str, **env: str):
    words = shlex.split(command)
    assert words[:2] == ["uv", "run"], command
    return run_uv(render.path, "run", "--frozen", *words[2:], **env)


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Render:
    return installed_render("defaults", tmp_path_factory)


def test_the_readme_teaches_these_dg_commands(render: Render) -> None:
    assert readme_commands(render) == [
        "uv run dg check defs",
        "uv run dg list defs",
        "uv run dg launch --assets raw/binance_ohlcv --partition 2024-01-01",
        "uv run dg scaffold defs dagster.asset my_asset.py",
    ]


def test_dg_list_defs_lists_the_whole_pipeline(render: Render) -> None:
    assert "uv run dg list defs" in readme_commands(render)
    listed = json.loads(
        run_uv(render.path, "run", "--frozen", "dg", "list", "defs", "--json").stdout
    )
    assets = {asset["asset_key"] for asset in listed["assets"]}
    assert {"raw/binance_ohlcv", "market/ohlcv", "market/ohlcv_features", "graph/market"} <= assets
    assert {check["name"] for check in listed["asset_checks"]} >= {"ohlc_consistency"}
    assert {job["name"] for job in listed["jobs"]} >= {"daily_market_data"}
    assert {"extract_io_manager", "transform_io_manager", "graph_io_manager", "graph"} <= {
        resource["name"] for resource in listed["resources"]
    }


def test_dg_launch_as_the_readme_teaches_it_stores_the_day(render: Render) -> None:
    (launch,) = [command for command in readme_commands(render) if " launch " in command]
    run_taught(render, launch)
    stored = render.path / "data" / "raw" / "binance_ohlcv" / "date=2024-01-01" / "data.json"
    assert json.loads(stored.read_text())["data"], stored


def test_the_missing_data_hint_is_a_command_that_produces_the_data(render: Render) -> None:
    # What MissingDataError says when a day's upstream is missing, for the day after the demo's.
    hint = run_uv(
        render.path,
        "run",
        "--frozen",
        "python",
        "-c",
        f"from {render.package}.io_managers.core.context import materialize_hint; "
        "print(materialize_hint('raw/binance_markets', '2024-01-05'))",
    ).stdout
    found = re.search(r"`(uv run dg launch [^`]+)`", hint)
    assert found, hint
    run_taught(render, found.group(1))
    stored = render.path / "data" / "raw" / "binance_markets" / "date=2024-01-05" / "data.json"
    assert stored.stat().st_size > 0


def test_dg_scaffold_defs_adds_an_asset_every_environment_loads(render: Render) -> None:
    (scaffold,) = [command for command in readme_commands(render) if " scaffold " in command]
    scaffolded = render.path / "src" / render.package / "defs" / "my_asset.py"
    try:
        run_taught(render, scaffold)
        assert scaffolded.is_file()
        listed = run_uv(render.path, "run", "--frozen", "dg", "list", "defs", "--json").stdout
        assert "my_asset" in {asset["asset_key"] for asset in json.loads(listed)["assets"]}
        for environment in ("dev", "staging", "prod"):
            result = run_uv(
                render.path, "run", "--frozen", "dg", "check", "defs", DAGSTER_ENV=environment
            )
            assert "All definitions loaded successfully." in result.stdout + result.stderr
    finally:
        scaffolded.unlink(missing_ok=True)


def test_an_unknown_environment_fails_dg_check_defs_with_the_fix(render: Render) -> None:
    # DAGSTER_ENV from the shell reaches the load (.env leaves it unset): a typo is named.
    result = run_uv(
        render.path,
        "run",
        "--frozen",
        "python",
        "-c",
        "import subprocess, sys; "
        "r = subprocess.run(['dg', 'check', 'defs'], capture_output=True, text=True); "
        "sys.stdout.write(r.stdout + r.stderr); sys.exit(0 if r.returncode else 1)",
        DAGSTER_ENV="stagng",
    )
    assert "DAGSTER_ENV='stagng' is not an environment of this project" in result.stdout
    assert "set it to one of dev, staging, prod" in result.stdout


def test_readme_commands_do_not_depend_on_a_shell_variable(render: Render) -> None:
    # The render's .env names the instance the commands use; nothing else needs exporting.
    env_file = (render.path / ".env").read_text()
    home = (render.path / ".dagster_home").resolve()
    assert f"DAGSTER_HOME={home}" in env_file.splitlines()
    assert (
        Path(home / "dagster.yaml").resolve()
        == (render.path / "deploy" / "dev" / "dagster.yaml").resolve()
    )
