"""Rendered without Copier's tasks (no --trust, --skip-tasks), the dev path needs no manual step:
the demo sets up the private .env and the dev instance, `dg dev` shows its runs, the tests pass."""

import stat
import subprocess

import pytest
from conftest import render, run_uv
from test_dagster_dev import DEMO_DAY, assert_serves_the_dev_instance, serve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("skip_tasks")]


def test_the_dev_path_runs_on_a_render_without_tasks(tmp_path_factory) -> None:
    project = tmp_path_factory.mktemp("skip-tasks") / "project"
    answers = render(project, {}, skip_tasks=True, unsafe=False)
    package = answers["package_name"]
    assert not (project / ".env").exists() and not (project / ".git").exists()
    run_uv(project, "sync", "--quiet")

    demo = run_uv(project, "run", "--frozen", "python", "-m", f"{package}.demo", "--date", DEMO_DAY)
    assert "Created .env (mode 0600, git-ignored)" in demo.stdout
    run_id = demo.stdout.split(f"Materialized {DEMO_DAY} (run ", 1)[1].split(")", 1)[0]
    env_file = project / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert f"DAGSTER_HOME={(project / '.dagster_home').resolve()}" in env_file.read_text()
    # The README's command for users who skipped the tasks: safe to run again, changes nothing.
    before = env_file.read_text()
    again = run_uv(project, "run", "--frozen", "python", "-m", f"{package}.local_env")
    assert "Nothing to do" in again.stdout and env_file.read_text() == before

    assert_serves_the_dev_instance(serve(project, ["dg", "dev"], project / "dg-dev.log"), run_id)
    result = run_uv(
        project,
        "run",
        "--frozen",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_definitions.py",
        "tests/test_environments.py",
        "tests/test_pipeline.py",
    )
    assert " passed" in result.stdout and " failed" not in result.stdout

    # .env stays out of git once the user makes the repository the message asks for.
    subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
    ignored = subprocess.run(["git", "check-ignore", "--quiet", ".env"], cwd=project, check=False)
    assert ignored.returncode == 0, f".env is not git-ignored in {project}"
