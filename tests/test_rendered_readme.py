"""The generated README's layout section names every module and package of the render.

A template property (a project that adds its own modules owes its README nothing), so it is
checked here, on a plain render of each answer set (no install needed).
"""

import re
from pathlib import Path

import pytest
from conftest import ANSWER_SETS, render


def layout_entries(readme: str) -> set[str]:
    """Paths that the README's layout block names, e.g. ``src/pkg/io_managers/core/errors.py``.

    A line's indentation nests it under the last directory named at a smaller indentation; a
    line starting with a directory (``assets/``) names that directory and the modules after it.
    """
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
            parent += first
            entries.add(parent)
            stack.append((indent, parent))
        entries.update(parent + name for name in re.findall(r"\b[A-Za-z_]\w*\.py\b", line))
    return entries


@pytest.mark.parametrize("answer_set", list(ANSWER_SETS))
def test_the_readme_layout_names_every_module(answer_set: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    answers = render(project, ANSWER_SETS[answer_set], skip_tasks=True)
    package = project / "src" / answers["package_name"]
    named = layout_entries((project / "README.md").read_text(encoding="utf-8"))
    modules = {
        path.relative_to(project).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py"
    }
    packages = {
        f"{path.relative_to(project).as_posix()}/"
        for path in package.rglob("*")
        if (path / "__init__.py").is_file()
    }
    missing = sorted((modules | packages) - named)
    assert not missing, f"the generated README's layout does not name: {', '.join(missing)}"
    assert f"src/{answers['package_name']}/io_managers/core/errors.py" in named
