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


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This template as v1 (the working tree) and v2 (v1 plus a new doc in the project)."""
    repository = copy_template_working_tree(tmp_path_factory.mktemp("min-copier") / "template")
    git(repository, "init", "--quiet", "--initial-branch", "main")
    commit_all(repository, "Release v1")
    git(repository, "tag", "v1")
    (repository / "template" / NEW_DOC).write_text("# Changes\n\n- v2: this page.\n")
    commit_all(repository, "Release v2")
    git(repository, "tag", "v2")
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
        "v1",
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
    assert "_commit: v2" in (project / ".copier-answers.yml").read_text()
    assert not (project / ".env").exists(), "the copy task does not run on update"


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
