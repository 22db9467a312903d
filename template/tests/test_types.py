"""The package type-checks clean: basedpyright, configured in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def test_the_package_type_checks_clean() -> None:
    checker = shutil.which("basedpyright", path=str(Path(sys.executable).parent))
    assert checker, "basedpyright is missing: run `uv sync` (it is in the dev dependency group)"
    result = subprocess.run(
        [checker, "--level", "error"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 errors" in result.stdout
