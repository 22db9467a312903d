"""The project's documentation holds what the code and the README point at.

Error messages, docstrings and the README send readers to `docs/...` pages: each one exists in
this project. The README's layout section names every module of the package, so a reader finds
any file from it.
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


def layout_entries() -> set[str]:
    """Paths (relative to the package) that the README's layout block names.

    A line's indentation nests it under the last directory named at a smaller indentation; a
    line starting with a directory (``assets/``) names that directory and the modules after it.
    """
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    entries: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        first = line.split()[0]
        if first.endswith("/"):
            directory = parent + first
            entries.add(directory)
            stack.append((indent, directory))
            parent = directory
        for module in re.findall(r"[A-Za-z_][A-Za-z0-9_]*\.py\b", line):
            entries.add(parent + module)
    return entries


def test_the_readme_layout_names_every_module() -> None:
    package_root = f"src/{PACKAGE.name}/"
    named = {entry.removeprefix(package_root) for entry in layout_entries()}
    modules = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }
    packages = {
        f"{path.relative_to(PACKAGE)}/"
        for path in PACKAGE.rglob("*")
        if (path / "__init__.py").is_file()
    }
    missing = sorted((modules | packages) - named)
    assert not missing, f"README.md's layout does not name: {', '.join(missing)}"
