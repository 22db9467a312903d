"""Each answer set renders into a project that is lint-clean, loads (`dg check defs`) and passes its own
tests."""

import pytest
from conftest import (
    ANSWER_SETS,
    SUITE_PART_GROUPS,
    SUITES,
    installed_render,
    run_uv,
    suite_arguments,
)

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
        "dg",
        "check",
        "defs",
        DAGSTER_HOME=str(dagster_home),
        DAGSTER_ENV=environment,
    )
    assert "All definitions loaded successfully." in result.stdout + result.stderr


SUITE_PARAMS = [
    pytest.param(
        name,
        part,
        marks=pytest.mark.xdist_group(SUITE_PART_GROUPS.get((name, part), name)),
        id=f"{name}-{part}",
    )
    for name, parts in SUITES.items()
    for part in parts
]


@pytest.mark.parametrize(("answer_set", "part"), SUITE_PARAMS)
def test_generated_test_suite_passes(answer_set: str, part: str, tmp_path_factory) -> None:
    project = installed_render(answer_set, tmp_path_factory).path
    # The whole suite on the defaults, what the answers change on the others (conftest.SUITES).
    # The timeout only catches a hang: a part takes 6 to 8 minutes alone, twice that on a busy
    # machine.
    result = run_uv(
        project,
        "run",
        "--frozen",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *suite_arguments(project, SUITES[answer_set][part]),
        timeout=1800,
    )
    assert " passed" in result.stdout
    assert " skipped" not in result.stdout, result.stdout[-3000:]
