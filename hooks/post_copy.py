"""Copier task after `copier copy` (needs --trust): a local .env and a git repository.

- `.env` is made from `.env.example` with freshly generated local passwords (it is git-ignored),
  naming the project's dev Dagster instance in `.dagster_home/`: the generated package's
  `local_env`, which users who skipped the tasks run themselves;
- uv.lock is written (`uv lock`), so the first commit installs in CI as it does locally;
- a git repository with a first commit is created, unless the project is already inside one
  (`copier update` needs the project under git).

Idempotent: an existing .env is never overwritten and an existing repository is never touched.
A git problem is reported, never raised: a failing task would make Copier delete the project.
Standard library only: Copier runs its tasks with its own Python.
"""

import argparse
import shutil
import subprocess
from pathlib import Path

from env_file import prepare

FIRST_COMMIT_MESSAGE = "Generate the project from the Dagster crypto-data Copier template"


def git(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)


def inside_work_tree(project: Path) -> bool:
    result = git(project, "rev-parse", "--is-inside-work-tree")
    return result.returncode == 0 and result.stdout.strip() == "true"


def configure_missing_identity(project: Path, name: str, email: str) -> list[str]:
    """Set user.name / user.email in this repository only where git has none (fresh machines, CI)."""
    configured = []
    for key, value in (("user.name", name), ("user.email", email)):
        if not git(project, "config", "--get", key).stdout.strip():
            git(project, "config", "--local", key, value)
            configured.append(f"{key}={value}")
    return configured


def failed_step(project: Path, *args: str) -> str | None:
    """Run `git <args>`; on failure, say what to finish by hand."""
    result = git(project, *args)
    if result.returncode == 0:
        return None
    return f"`git {' '.join(args)}` failed; finish by hand:\n{result.stderr.strip()}"


def lock_dependencies(project: Path) -> list[str]:
    """Write uv.lock, so the first commit installs in CI (`uv sync --locked`) as it does here.

    Needs uv and the package index; without them the user's first `uv sync` writes the lock.
    """
    if not (project / "pyproject.toml").exists() or (project / "uv.lock").exists():
        return []
    uv = shutil.which("uv")
    if uv is None:
        return ["uv is not on PATH: `uv sync` will write uv.lock (commit it: CI installs from it)."]
    try:
        result = subprocess.run(
            [uv, "lock", "--quiet"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ["`uv lock` took over 5 minutes: `uv sync` will write uv.lock (commit it)."]
    if result.returncode:
        return [f"`uv lock` failed; `uv sync` will write uv.lock (commit it):\n{result.stderr}"]
    return ["Locked the dependencies in uv.lock."]


def initialize_repository(project: Path, author_name: str, author_email: str) -> list[str]:
    """Create the repository and its first commit; return what to tell the user."""
    if shutil.which("git") is None:
        return ["git is not installed: no repository created (copier update will need one)."]
    if inside_work_tree(project):
        return ["Already inside a git repository: left as it is (commit the new files yourself)."]
    init = ("init", "--quiet")
    if not git(project, "config", "--get", "init.defaultBranch").stdout.strip():
        init = ("-c", "init.defaultBranch=main", *init)  # older gits ignore it
    if failure := failed_step(project, *init):
        return [failure]
    notes = []
    if (project / ".env").exists() and git(project, "check-ignore", "--quiet", ".env").returncode:
        # The passwords must stay out of git even where .gitignore does not list .env.
        exclude = project / git(project, "rev-parse", "--git-path", "info/exclude").stdout.strip()
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as patterns:
            patterns.write("/.env\n")
        notes.append(".gitignore does not list .env: excluded it in .git/info/exclude.")
    if failure := failed_step(project, "add", "--all"):
        return [*notes, failure]
    if configured := configure_missing_identity(project, author_name, author_email):
        notes.append(
            f"No git identity was configured: set {' and '.join(configured)} for this "
            "repository only (change them with `git config`)."
        )
    if failure := failed_step(project, "commit", "--quiet", "-m", FIRST_COMMIT_MESSAGE):
        return [*notes, failure]
    return ["Initialized a git repository with a first commit.", *notes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--author-name", default="Data Engineering")
    parser.add_argument("--author-email", default="data-engineering@example.com")
    args = parser.parse_args(argv)
    project = Path.cwd()

    for note in prepare(project) or ["Kept the existing .env."]:
        print(note)
    for note in lock_dependencies(project):
        print(note)
    for note in initialize_repository(project, args.author_name, args.author_email):
        print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
