"""The generated CI workflow and Dependabot configuration: valid, per answers, and runnable.

Both files are checked against the schemas check-jsonschema vendors (no network), for each
answer set. The workflow's Python matrix runs from the `python_version` answer to the newest
choice in copier.yml; this machine has one Python, so the answer sets (installed by other tests)
keep the default and each choice is checked on a plain render. The workflow's `run:` steps run
in the installed default render.
"""

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ANSWER_SETS, TEMPLATE_ROOT, installed_render, render, run_uv
from test_pre_commit import hook_environment

WORKFLOW = Path(".github/workflows/ci.yml")
DEPENDABOT = Path(".github/dependabot.yml")
CONFIG = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
PYTHON_CHOICES: list[str] = CONFIG["python_version"]["choices"]


def minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with one of its built-in schemas; returns the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text())


def matrix(project: Path) -> list[str]:
    return load(project / WORKFLOW)["jobs"]["test"]["strategy"]["matrix"]["python-version"]


@pytest.fixture(scope="module")
def plain_renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each answer set rendered without tasks or installation."""
    renders = {}
    for name, answers in ANSWER_SETS.items():
        project = tmp_path_factory.mktemp(f"ci-{name}") / "project"
        render(project, answers, skip_tasks=True)
        renders[name] = project
    return renders


@pytest.mark.parametrize("answer_set", list(ANSWER_SETS))
def test_workflow_and_dependabot_match_their_schemas(
    answer_set: str, plain_renders: dict[str, Path]
) -> None:
    project = plain_renders[answer_set]
    for schema, path in (
        ("vendor.github-workflows", WORKFLOW),
        ("vendor.dependabot", DEPENDABOT),
    ):
        result = check_jsonschema(schema, project / path)
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


def test_schema_check_refuses_a_broken_workflow(
    plain_renders: dict[str, Path], tmp_path: Path
) -> None:
    workflow = load(plain_renders["defaults"] / WORKFLOW)
    del workflow["jobs"]["test"]["runs-on"]
    broken = tmp_path / "ci.yml"
    broken.write_text(yaml.safe_dump(workflow))
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode == 1, result.stdout
    assert "runs-on" in result.stdout


@pytest.mark.parametrize("answer_set", list(ANSWER_SETS))
def test_matrix_of_each_answer_set(answer_set: str, plain_renders: dict[str, Path]) -> None:
    minimum = ANSWER_SETS[answer_set].get("python_version", CONFIG["python_version"]["default"])
    expected = [version for version in PYTHON_CHOICES if minor(version) >= minor(minimum)]
    assert matrix(plain_renders[answer_set]) == expected


@pytest.mark.parametrize("python_version", PYTHON_CHOICES)
def test_matrix_runs_from_the_minimum_python_to_the_newest_choice(
    python_version: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    render(project, {"python_version": python_version}, skip_tasks=True)
    expected = [version for version in PYTHON_CHOICES if minor(version) >= minor(python_version)]
    assert matrix(project) == expected
    assert expected[0] == python_version and expected[-1] == max(PYTHON_CHOICES, key=minor)
    assert f'requires-python = ">={python_version}"' in (project / "pyproject.toml").read_text()


def test_dependabot_updates_uv_and_actions_weekly_grouped(
    plain_renders: dict[str, Path],
) -> None:
    config = load(plain_renders["defaults"] / DEPENDABOT)
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"uv", "github-actions"}
    for update in updates.values():
        assert update["directory"] == "/"
        assert update["schedule"]["interval"] == "weekly"
        (group,) = update["groups"].values()
        assert group["patterns"] == ["*"]
        assert sorted(group["update-types"]) == ["minor", "patch"]


@pytest.mark.slow
@pytest.mark.xdist_group("defaults")
def test_workflow_run_steps_pass_in_the_render(tmp_path_factory) -> None:
    project = installed_render("defaults", tmp_path_factory).path
    steps = load(project / WORKFLOW)["jobs"]["test"]["steps"]
    actions = [step["uses"].split("@")[0] for step in steps if "uses" in step]
    assert actions == ["actions/checkout", "astral-sh/setup-uv"]
    assert "uses" in steps[0] and "uses" in steps[1], "checkout and uv come before any command"
    commands = [step["run"] for step in steps if "run" in step]
    assert commands == [
        "uv sync --locked",
        "uv run --frozen pre-commit run --all-files --show-diff-on-failure",
        "uv run --frozen pytest",
    ]
    for command in commands:
        program, *args = shlex.split(command)
        assert program == "uv"
        if args[-1] == "pytest":
            # The whole suite is tests/test_generated_projects.py's part (13 minutes, the same
            # `uv run --frozen pytest`): here the step runs on one module, to show it starts.
            args += ["-q", "-p", "no:cacheprovider", "tests/test_docs.py"]
        result = run_uv(project, *args, **hook_environment())
        if args[-1] == "tests/test_docs.py":
            assert " passed" in result.stdout
