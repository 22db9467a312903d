"""The project's documentation holds what the code and the README point at.

Error messages, docstrings and the README send readers to `docs/...` pages: each one exists in
this project.
"""

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
(PACKAGE,) = (path for path in (PROJECT / "src").iterdir() if (path / "__init__.py").is_file())
DOC_PATH = re.compile(r"docs/[A-Za-z0-9_.-]+\.md")


def referring_files() -> list[Path]:
    """Every file of the project that may send a reader to a doc page."""
    sources = [*PACKAGE.rglob("*.py"), *(PROJECT / "deploy").rglob("*")]
    named = ["README.md", ".env.example", "docker-compose.yml", "pyproject.toml"]
    return [path for path in [*sources, *(PROJECT / name for name in named)] if path.is_file()]


def test_every_doc_page_the_project_names_exists() -> None:
    named = {
        (path.relative_to(PROJECT), page)
        for path in referring_files()
        for page in DOC_PATH.findall(path.read_text(encoding="utf-8", errors="replace"))
    }
    assert named, "the code names no doc page at all: the pattern no longer matches"
    missing = sorted(
        f"{page} (named in {path})" for path, page in named if not (PROJECT / page).is_file()
    )
    assert not missing, "doc pages named but missing: " + "; ".join(missing)
