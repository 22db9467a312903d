"""pre-commit: the generated project's hooks pass on a render, and the template's own on itself.

The generated project's hooks (template/.pre-commit-config.yaml) run its locked tools through
`uv run --frozen`: they pass on the default render as generated and change no file, git runs them
on each commit once `pre-commit install` has set up its hook, and the secret scan refuses a new
secret while it allows the two local passwords that `.env.example` publishes. The template
repository's hooks (.pre-commit-config.yaml) run on a committed copy of the working tree, so the
checkout is never touched.

pre-commit keeps its state and any hook environment in `.cache/pre-commit` (git-ignored): runs
after the first reuse them.
"""

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (
    GIT_IDENTITY,
    TEMPLATE_ROOT,
    commit_all,
    copy_template_working_tree,
    git,
    installed_render,
    run_uv,
    uv_bin,
    uv_environment,
)

PRE_COMMIT_HOME = TEMPLATE_ROOT / ".cache" / "pre-commit"
TEMPLATE_HOOKS = [
    "trim trailing whitespace",
    "fix end of files",
    "check yaml",
    "check toml",
    "detect secrets",
    "ruff check",
    "ruff format",
]
RENDER_HOOKS = [*TEMPLATE_HOOKS, "basedpyright"]


def uv_directory() -> Path:
    """Where the `uv` executable is, also when it is installed as a module only."""
    if found := shutil.which("uv"):
        return Path(found).parent
    locate = [*uv_bin()[:-2], "-c", "import uv; print(uv.find_uv_bin())"]
    found = subprocess.run(locate, capture_output=True, text=True, check=True).stdout.strip()
    return Path(found).parent


def hook_environment() -> dict[str, str]:
    """PRE_COMMIT_HOME in the cache, and `uv` on PATH: the hooks call it by name."""
    return {
        "PRE_COMMIT_HOME": str(PRE_COMMIT_HOME),
        "PATH": os.pathsep.join([str(uv_directory()), os.environ["PATH"]]),
    }


def environment() -> dict[str, str]:
    return uv_environment() | hook_environment() | GIT_IDENTITY


def passed(output: str, hooks: list[str]) -> None:
    for hook in hooks:
        assert re.search(rf"(?m)^{re.escape(hook)}\.+Passed$", output), f"{hook}:\n{output}"


def failing(project: Path, *command: str) -> subprocess.CompletedProcess:
    """Run `command` in `project`, expecting it to fail."""
    result = subprocess.run(
        command, cwd=project, env=environment(), capture_output=True, text=True, check=False
    )
    assert result.returncode != 0, f"`{' '.join(command)}` passed:\n{result.stdout}"
    return result


def pre_commit(project: Path, *args: str) -> subprocess.CompletedProcess:
    return run_uv(project, "run", "--frozen", "pre-commit", *args, **hook_environment())


@pytest.mark.slow
@pytest.mark.xdist_group("defaults")
def test_render_hooks_pass_and_change_nothing(tmp_path_factory) -> None:
    project = installed_render("defaults", tmp_path_factory).path
    before = git(project, "status", "--porcelain")
    passed(pre_commit(project, "run", "--all-files").stdout, RENDER_HOOKS)
    # One hook by its id, as docs/development.md shows.
    passed(pre_commit(project, "run", "ruff-check", "--all-files").stdout, ["ruff check"])
    assert git(project, "status", "--porcelain") == before


@pytest.mark.slow
@pytest.mark.xdist_group("defaults")
def test_fixers_leave_the_recorded_payloads_byte_for_byte(tmp_path_factory) -> None:
    render = installed_render("defaults", tmp_path_factory)
    samples = sorted((render.path / "src" / render.package / "replay" / "samples").glob("*"))
    assert samples, "no recorded payloads: the exclusion has nothing to protect"
    sample = samples[0]
    recorded = sample.read_bytes()
    try:
        sample.write_bytes(recorded + b"  \n\n")  # what both fixers would change
        names = [sample.relative_to(render.path).as_posix()]
        for hook in ("trailing-whitespace", "end-of-file-fixer"):
            result = pre_commit(render.path, "run", hook, "--files", *names)
            assert "(no files to check)Skipped" in result.stdout, result.stdout
        assert sample.read_bytes() == recorded + b"  \n\n"
    finally:
        sample.write_bytes(recorded)


@pytest.mark.slow
@pytest.mark.xdist_group("defaults")
def test_installed_git_hook_fixes_a_file_and_refuses_the_commit(tmp_path_factory) -> None:
    project = installed_render("defaults", tmp_path_factory).path
    head, before = git(project, "rev-parse", "HEAD"), git(project, "status", "--porcelain")
    notes = project / "notes.txt"
    assert "pre-commit installed at .git/hooks/pre-commit" in pre_commit(project, "install").stdout
    try:
        notes.write_text("trailing blanks   \nno newline at the end")
        git(project, "add", "notes.txt")
        commit = failing(project, "git", "commit", "--quiet", "-m", "Notes")
        output = commit.stdout + commit.stderr
        assert re.search(r"trim trailing whitespace\.+Failed", output), output
        assert re.search(r"fix end of files\.+Failed", output), output
        assert notes.read_text() == "trailing blanks\nno newline at the end\n"
        assert git(project, "rev-parse", "HEAD") == head
    finally:
        git(project, "reset", "--quiet", "--", "notes.txt")
        notes.unlink(missing_ok=True)
        pre_commit(project, "uninstall")
    assert not (project / ".git" / "hooks" / "pre-commit").exists()
    assert git(project, "status", "--porcelain") == before


@pytest.mark.slow
@pytest.mark.xdist_group("defaults")
def test_secret_scan_refuses_new_secrets_and_allows_the_published_passwords(
    tmp_path_factory,
) -> None:
    project = installed_render("defaults", tmp_path_factory).path
    package = installed_render("defaults", tmp_path_factory).package
    example = project / ".env.example"
    published = example.read_text()
    probe = project / "src" / package / "probe.py"
    token = secrets.token_urlsafe(24)
    scan = ("uv", "run", "--frozen", "pre-commit", "run", "detect-secrets", "--files")
    allowlisted = "# pragma: allowlist nextline secret\nPOSTGRES_PASSWORD=postgres-local-secret\n"
    assert allowlisted in published
    try:
        allowed = pre_commit(project, "run", "detect-secrets", "--files", ".env.example")
        passed(allowed.stdout, ["detect secrets"])
        # A real secret in a new variable of .env.example.
        example.write_text(published + f"BINANCE_API_SECRET={token}\n")
        result = failing(project, *scan, ".env.example")
        line = published.count("\n") + 1
        assert f"Location:    .env.example:{line}\n" in result.stdout, result.stdout
        assert result.stdout.count("Location:") == 1, result.stdout
        # The published password is found too once its allowlist comment is gone.
        example.write_text(
            published.replace(allowlisted, "POSTGRES_PASSWORD=postgres-local-secret\n")
        )
        assert "Dotenv Secret" in failing(project, *scan, ".env.example").stdout
        # In code, quoted.
        probe.write_text(f'API_KEY = "{token}"\n')
        result = failing(project, *scan, probe.relative_to(project).as_posix())
        assert f"Location:    src/{package}/probe.py:1" in result.stdout, result.stdout
    finally:
        example.write_text(published)
        probe.unlink(missing_ok=True)


def test_template_hooks_pass_on_a_copy_of_the_working_tree(tmp_path: Path) -> None:
    # Not in a folder named "template": ruff's `extend-exclude = ["template"]` matches any
    # ancestor of that name, and ruff would then check nothing.
    repository = copy_template_working_tree(tmp_path / "repository")
    git(repository, "init", "--quiet", "--initial-branch", "main")
    commit_all(repository, "The working tree")
    passed(pre_commit(repository, "run", "--all-files").stdout, TEMPLATE_HOOKS)
    # The hooks' own virtualenv (.venv) is git-ignored: nothing else appeared or changed.
    assert git(repository, "status", "--porcelain") == ""
    # docs/development.md: once installed, git runs them on each commit.
    pre_commit(repository, "install")
    (repository / "hooks" / "notes.py").write_text("NOTES = 'quoted the other way'   \n")
    git(repository, "add", "hooks/notes.py")
    commit = failing(repository, "git", "commit", "--quiet", "-m", "Notes")
    for hook in ("trim trailing whitespace", "ruff format"):
        assert re.search(rf"{hook}\.+Failed", commit.stdout + commit.stderr), commit.stderr
    assert (repository / "hooks" / "notes.py").read_text() == 'NOTES = "quoted the other way"\n'
