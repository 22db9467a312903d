"""Each answer set renders into a project that is lint-clean, validates and passes its own tests."""

import pytest
from conftest import ANSWER_SETS, installed_render, run_uv

pytestmark = pytest.mark.slow

ANSWER_SET_PARAMS = [
    pytest.param(name, marks=pytest.mark.xdist_group(name), id=name) for name in ANSWER_SETS
]


@pytest.mark.parametrize("answer_set", ANSWER_SET_PARAMS)
def test_render_is_ruff_clean_as_rendered(answer_set: str, tmp_path_factory) -> None:
    project = installed_render(answer_set, tmp_path_factory).path
    run_uv(project, "run", "--frozen", "ruff", "check", "--no-cache", ".")
    run_uv(project, "run", "--frozen", "ruff", "format", "--check", "--no-cache", ".")


# Every answer set in dev; the defaults also in staging and prod (same code, other resources).
VALIDATE_PARAMS = [
    *(
        pytest.param(name, "dev", marks=pytest.mark.xdist_group(name), id=f"{name}-dev")
        for name in ANSWER_SETS
    ),
    *(
        pytest.param(
            "defaults", env, marks=pytest.mark.xdist_group("defaults"), id=f"defaults-{env}"
        )
        for env in ("staging", "prod")
    ),
]


@pytest.mark.parametrize(("answer_set", "environment"), VALIDATE_PARAMS)
def test_definitions_validate(
    answer_set: str, environment: str, tmp_path_factory, dagster_home
) -> None:
    project = installed_render(answer_set, tmp_path_factory).path
    result = run_uv(
        project,
        "run",
        "--frozen",
        "dagster",
        "definitions",
        "validate",
        DAGSTER_HOME=str(dagster_home),
        DAGSTER_ENV=environment,
    )
    assert "passed validation" in result.stdout + result.stderr


@pytest.mark.parametrize("answer_set", ANSWER_SET_PARAMS)
def test_generated_test_suite_passes(answer_set: str, tmp_path_factory) -> None:
    project = installed_render(answer_set, tmp_path_factory).path
    # Storage backends and the process topology do not depend on the answers: the defaults run
    # the whole suite, the other answer sets what the answers change (exchanges, symbols,
    # timeframe, names).
    answer_independent = (
        []
        if answer_set == "defaults"
        else ["--ignore-glob=tests/test_io_*.py", "--ignore=tests/test_topology.py"]
    )
    result = run_uv(
        project, "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", *answer_independent
    )
    assert " passed" in result.stdout
    assert " skipped" not in result.stdout, result.stdout[-3000:]


@pytest.mark.xdist_group("defaults")
def test_demo_materializes_one_day_into_files_and_duckdb(tmp_path_factory) -> None:
    render = installed_render("defaults", tmp_path_factory)
    result = run_uv(
        render.path,
        "run",
        "--frozen",
        "python",
        "-m",
        f"{render.package}.demo",
        "--date",
        "2024-01-02",
        DAGSTER_HOME=str(tmp_path_factory.mktemp("demo_home")),
    )
    assert "market.ohlcv: 48 rows on 2024-01-02" in result.stdout, result.stdout
    assert "market.ohlcv_features: 48 rows on 2024-01-02" in result.stdout
    assert "graph: 12 markets on 2024-01-02" in result.stdout
    raw = render.path / "data" / "raw" / "binance_ohlcv" / "date=2024-01-02" / "data.json"
    assert raw.stat().st_size > 0
