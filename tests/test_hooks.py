"""The post-copy task: .env from .env.example, never overwriting the user's own."""

import subprocess
import sys
from pathlib import Path

from conftest import TEMPLATE_ROOT, render


def test_copy_creates_env_from_example_and_keeps_it_out_of_git(tmp_path: Path) -> None:
    project = tmp_path / "p"
    render(project, {})
    assert (project / ".env").read_text() == (project / ".env.example").read_text()
    assert ".env" in (project / ".gitignore").read_text().splitlines()


def test_post_copy_never_overwrites_an_existing_env(tmp_path: Path) -> None:
    project = tmp_path / "p"
    render(project, {})
    (project / ".env").write_text("EXCHANGE_MODE=live\n")
    result = subprocess.run(
        [sys.executable, str(TEMPLATE_ROOT / "hooks" / "post_copy.py"), "pkg"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert (project / ".env").read_text() == "EXCHANGE_MODE=live\n"
    assert "uv run python -m pkg.demo" in result.stdout
