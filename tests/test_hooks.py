"""The copy task (hooks/post_copy.py): .env with fresh passwords, a git repository, idempotence;
and what copying without --trust does."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import copier
import pytest
from conftest import TEMPLATE_ROOT, git, render
from copier.errors import UnsafeTemplateError

HOOKS = TEMPLATE_ROOT / "hooks"
# Hook modules import each other as scripts do: hooks/ is on the path, not a package.
sys.path.insert(0, str(HOOKS))
import env_file

EXAMPLE = """\
# Which Definitions module to load.
DAGSTER_ENV=dev

# PostgreSQL (staging).
POSTGRES_USER=crypto
POSTGRES_PASSWORD=postgres-local-secret
# pragma: allowlist nextline secret
DAGSTER_POSTGRES_URL=postgresql://crypto:postgres-local-secret@localhost:5432/dagster
S3_SECRET_KEY=minio-local-secret
"""


def assignments(path: Path) -> dict[str, str]:
    return env_file.read_assignments(path.read_text())


def run_post_copy(project: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [
            sys.executable,
            str(HOOKS / "post_copy.py"),
            "--author-name",
            "Quant Team",
            "--author-email",
            "quant@example.org",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def copied_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default answers, copied with the tasks."""
    project = tmp_path_factory.mktemp("copied") / "project"
    render(project, {})
    return project


def test_copy_writes_env_with_fresh_passwords(copied_project: Path) -> None:
    env, example = (
        assignments(copied_project / ".env"),
        assignments(copied_project / ".env.example"),
    )
    assert env.keys() == example.keys() | {"DAGSTER_HOME"}
    for name in env_file.GENERATED_SECRETS:
        assert env[name] != example[name]
        assert len(env[name]) >= 32
    generated = {*env_file.GENERATED_SECRETS, "DAGSTER_HOME"}
    assert {k: v for k, v in env.items() if k not in generated} == {
        k: v for k, v in example.items() if k not in generated
    }
    assert stat.S_IMODE((copied_project / ".env").stat().st_mode) == 0o600


def test_copy_points_dagster_home_at_the_dev_instance_config(copied_project: Path) -> None:
    home = copied_project / ".dagster_home"
    assert assignments(copied_project / ".env")["DAGSTER_HOME"] == str(home.resolve())
    # The instance reads deploy/dev/dagster.yaml itself, so a template update of it applies.
    config = home / "dagster.yaml"
    assert config.is_symlink()
    assert config.resolve() == (copied_project / "deploy" / "dev" / "dagster.yaml").resolve()
    git(copied_project, "check-ignore", "--quiet", ".dagster_home/dagster.yaml")


def test_copy_commits_everything_but_env(copied_project: Path) -> None:
    assert git(copied_project, "rev-list", "--count", "HEAD").strip() == "1"
    assert not git(copied_project, "status", "--porcelain")
    tracked = git(copied_project, "ls-files").splitlines()
    # uv.lock too: the first commit installs in CI with `uv sync --locked`.
    assert {".env.example", ".copier-answers.yml", "pyproject.toml", "uv.lock"} <= set(tracked)
    assert ".env" not in tracked
    for secrets_file in (".env", ".env.prod", ".env.staging"):
        git(copied_project, "check-ignore", "--quiet", secrets_file)
    assert ".env" in (copied_project / ".gitignore").read_text().splitlines()


def test_post_copy_run_again_changes_nothing(copied_project: Path, tmp_path: Path) -> None:
    project = Path(shutil.copytree(copied_project, tmp_path / "project", symlinks=True))
    # A copy elsewhere first repoints DAGSTER_HOME at its own instance, and keeps the rest.
    moved = run_post_copy(project)
    assert f"to this project's {(project / '.dagster_home').resolve()}" in moved
    env = assignments(project / ".env")
    assert env == assignments(copied_project / ".env") | {
        "DAGSTER_HOME": str((project / ".dagster_home").resolve())
    }
    env_before, head_before = (project / ".env").read_text(), git(project, "rev-parse", "HEAD")
    output = run_post_copy(project)
    assert "Kept the existing .env." in output
    assert "Already inside a git repository" in output
    assert (project / ".env").read_text() == env_before
    assert git(project, "rev-parse", "HEAD") == head_before


def test_copy_prints_what_the_tasks_did_and_the_next_commands(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    project = tmp_path / "p"
    render(project, {"package_name": "lake"}, quiet=False)
    output = capfd.readouterr()
    printed = output.out + output.err
    assert "Created .env (mode 0600, git-ignored) with new random POSTGRES_PASSWORD" in printed
    assert "Initialized a git repository with a first commit." in printed
    for command in (
        f"cd {project}",
        "uv sync",
        "uv run pytest",
        "uv run python -m lake.demo",
        "uv run dg dev",
    ):
        assert f"  {command}" in output.err, output.err
    assert "uv run python -m lake.local_env" not in output.err


def test_without_trust_copy_refuses_tasks_and_skip_tasks_renders_every_file(
    copied_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:
    # No user settings may mark the template as trusted.
    (tmp_path / "settings.yml").write_text("defaults: {}\n")
    monkeypatch.setenv("COPIER_SETTINGS_PATH", str(tmp_path / "settings.yml"))
    untrusted = {"defaults": True, "vcs_ref": "HEAD", "unsafe": False}
    with pytest.raises(UnsafeTemplateError, match="tasks"):
        copier.run_copy(str(TEMPLATE_ROOT), str(tmp_path / "refused"), quiet=True, **untrusted)
    assert not (tmp_path / "refused").exists()

    project = tmp_path / "skipped"
    capfd.readouterr()
    copier.run_copy(str(TEMPLATE_ROOT), str(project), skip_tasks=True, **untrusted)
    message = capfd.readouterr().err

    def files(root: Path) -> set[str]:
        return {
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(root).parts
        }

    # The copy task's only files: .env and the dev instance's link to its config.
    copy_task_files = {".env", ".dagster_home/dagster.yaml", "uv.lock"}
    assert files(project) == files(copied_project) - copy_task_files
    assert not (project / ".env").exists() and not (project / ".git").exists()
    assert "uv run python -m dagster_crypto_data.local_env" in message
    assert "git init" in message


def test_first_commit_uses_the_author_answers_when_git_has_no_identity(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env.example").write_text(EXAMPLE)
    (project / ".gitignore").write_text(".env\n")
    home = tmp_path / "home"
    home.mkdir()
    bare_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "EMAIL", "XDG_CONFIG"))
    } | {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}

    output = run_post_copy(project, env=bare_env)

    assert "No git identity was configured" in output
    author = git(project, "log", "-1", "--format=%an <%ae>").strip()
    assert author == "Quant Team <quant@example.org>"
    assert git(project, "config", "--local", "user.name").strip() == "Quant Team"
    assert git(project, "ls-files").split() == [".env.example", ".gitignore"]


def test_first_commit_leaves_a_configured_identity_alone(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env.example").write_text(EXAMPLE)
    (project / ".gitignore").write_text(".env\n")
    (tmp_path / "gitconfig").write_text("[user]\n\tname = Ada\n\temail = ada@example.com\n")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "EMAIL"))
    } | {"GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}

    output = run_post_copy(project, env=env)

    assert "No git identity" not in output
    assert git(project, "log", "-1", "--format=%an <%ae>").strip() == "Ada <ada@example.com>"
    local = subprocess.run(
        ["git", "config", "--local", "--get", "user.name"],
        cwd=project,
        capture_output=True,
        check=False,
    )
    assert local.returncode == 1  # nothing written to the repository's own config


def test_env_stays_out_of_git_even_without_a_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text(EXAMPLE)

    output = run_post_copy(tmp_path)

    assert ".gitignore does not list .env" in output
    assert git(tmp_path, "ls-files").split() == [".env.example"]
    git(tmp_path, "check-ignore", "--quiet", ".env")


def test_project_inside_a_repository_gets_no_repository_of_its_own(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet")
    project = tmp_path / "monorepo" / "project"
    project.mkdir(parents=True)
    (project / ".env.example").write_text(EXAMPLE)

    output = run_post_copy(project)

    assert "Already inside a git repository" in output
    assert not (project / ".git").exists()
    assert (project / ".env").is_file()


def test_published_passwords_are_replaced_everywhere_they_appear(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text(EXAMPLE)
    assert env_file.create_env_file(tmp_path)
    env = assignments(tmp_path / ".env")
    assert "local-secret" not in (tmp_path / ".env").read_text()
    password = env["POSTGRES_PASSWORD"]
    assert env["DAGSTER_POSTGRES_URL"] == f"postgresql://crypto:{password}@localhost:5432/dagster"
    assert env["S3_SECRET_KEY"] != password
    # Each project gets its own.
    other = tmp_path / "other"
    other.mkdir()
    (other / ".env.example").write_text(EXAMPLE)
    env_file.create_env_file(other)
    assert assignments(other / ".env")["POSTGRES_PASSWORD"] != password
    # An existing .env is never overwritten.
    (tmp_path / ".env").write_text("DAGSTER_ENV=prod\n")
    assert not env_file.create_env_file(tmp_path)
    assert (tmp_path / ".env").read_text() == "DAGSTER_ENV=prod\n"


def test_missing_variables_are_added_with_their_comments_and_values_kept(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text(EXAMPLE)
    (tmp_path / ".env").write_text("DAGSTER_ENV=staging\nPOSTGRES_PASSWORD=ours\n")

    added = env_file.add_missing_variables(tmp_path, reason="copier update (template 0.1.0)")

    assert added == ["POSTGRES_USER", "DAGSTER_POSTGRES_URL", "S3_SECRET_KEY"]
    text = (tmp_path / ".env").read_text()
    assert text.startswith("DAGSTER_ENV=staging\nPOSTGRES_PASSWORD=ours\n")
    assert "# Added by copier update (template 0.1.0)" in text
    assert "# PostgreSQL (staging).\nPOSTGRES_USER=crypto\n" in text
    env = assignments(tmp_path / ".env")
    # The URL follows the project's own password, not the published one.
    # pragma: allowlist nextline secret
    assert env["DAGSTER_POSTGRES_URL"] == "postgresql://crypto:ours@localhost:5432/dagster"
    assert env["S3_SECRET_KEY"] not in {"minio-local-secret", ""}
    assert env_file.add_missing_variables(tmp_path, reason="again") == []
    assert (tmp_path / ".env").read_text() == text
