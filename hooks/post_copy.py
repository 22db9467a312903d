"""Runs in a freshly copied project (a Copier task, with --trust): local settings, next steps.

Idempotent: an existing .env is never overwritten, so running it twice changes nothing.
"""

import shutil
import sys
from pathlib import Path


def create_env_file(project: Path) -> bool:
    """Copy .env.example to .env (git-ignored) unless the user already has one."""
    env_file, example = project / ".env", project / ".env.example"
    if env_file.exists() or not example.exists():
        return False
    shutil.copyfile(example, env_file)
    return True


def main(argv: list[str]) -> int:
    project = Path.cwd()
    package = argv[1] if len(argv) > 1 else "<package>"
    if create_env_file(project):
        print("Created .env from .env.example (git-ignored; edit it for your machine).")
    print(
        "\nNext steps:\n"
        f"  cd {project}\n"
        "  uv sync\n"
        "  uv run pytest\n"
        f"  uv run python -m {package}.demo\n"
        "  uv run dagster dev"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
