"""The declared `_min_copier_version` is the real one: exactly that Copier copies (running the copy
task, which needs `_copier_operation`) and updates the project; the release before it is refused.

Each Copier runs from PyPI in a throwaway uv tool environment (`uv run --no-project --with
copier==X`), cached in the shared uv cache.
"""

import subprocess
from pathlib import Path

import pytest
from conftest import (
    COPIER_CONFIG,
    GIT_IDENTITY,
    commit_all,
    copy_template_working_tree,
    git,
    uv_bin,
    uv_environment,
)

pytestmark = pytest.mark.slow

MINIMUM = COPIER_CONFIG["_min_copier_version"]
PREVIOUS_MINOR = "9.5.0"  # the release before 9.6.0, which added _copier_operation
NEW_DOC = "docs/changes.md"


def copier(version: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*uv_bin(), "run", "--no-project", "--with", f"copier=={version}", "copier", *args],
        cwd=cwd,
        env=uv_environment() | GIT_IDENTITY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# Tagged around the versions copier.yml lists migrations for (0.1.0, 0.2.0), so the update runs
# them too: every copier.yml feature passes through the minimum Copier.
OLD, NEW = "v0.0.1", "v0.2.0"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This template as OLD (the working tree) and NEW (OLD plus a new doc in the project)."""
    repository = copy_template_working_tree(tmp_path_factory.mktemp("min-copier") / "template")
    git(repository, "init", "--quiet", "--initial-branch", "main")
    commit_all(repository, f"Release {OLD}")
    git(repository, "tag", OLD)
    (repository / "template" / NEW_DOC).write_text("# Changes\n\n- 0.2.0: this page.\n")
    commit_all(repository, f"Release {NEW}")
    git(repository, "tag", NEW)
    return repository


def test_the_declared_minimum_is_copier_9_6(template: Path) -> None:
    assert MINIMUM == "9.6.0", "_copier_operation (the copy task's `when`) exists from 9.6.0"


def test_the_minimum_copier_copies_with_the_task_and_updates(
    template: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    copied = copier(
        MINIMUM,
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref",
        OLD,
        str(template),
        str(project),
        cwd=tmp_path,
    )
    assert copied.returncode == 0, copied.stdout + copied.stderr
    # The copy task ran (its `when` reads _copier_operation): .env and a first commit.
    assert (project / ".env").is_file(), copied.stdout + copied.stderr
    assert "Generate the project" in git(project, "log", "--format=%s")
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nOur own notes.\n")
    (project / ".env").unlink()
    commit_all(project, "Our notes")

    updated = copier(MINIMUM, "update", "--trust", "--defaults", cwd=project)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert (project / NEW_DOC).is_file(), "the template's change arrived"
    assert readme.read_text().endswith("\nOur own notes.\n"), "the user's edit survived"
    assert f"_commit: {NEW}" in (project / ".copier-answers.yml").read_text()
    # The 0.1.0 and 0.2.0 migrations ran: sync_env_file writes a missing .env from .env.example;
    # the copy task itself does not run on update (its first commit is still the only one).
    assert (project / ".env").is_file(), updated.stdout + updated.stderr
    assert git(project, "log", "--format=%s").splitlines()[-1].startswith("Generate the project")
    assert len(git(project, "log", "--format=%s").splitlines()) == 2


def test_the_copier_before_the_minimum_is_refused(template: Path, tmp_path: Path) -> None:
    refused = copier(
        PREVIOUS_MINOR,
        "copy",
        "--trust",
        "--defaults",
        str(template),
        str(tmp_path / "p"),
        cwd=tmp_path,
    )
    assert refused.returncode != 0
    assert MINIMUM in refused.stdout + refused.stderr
    assert not (tmp_path / "p" / "pyproject.toml").exists()
