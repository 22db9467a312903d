"""The `license` question: LICENSE in its canonical wording, pyproject's PEP 639 fields, a clean build.

The licence texts are compared with the ones that installed packages ship (copier's MIT,
Jinja's BSD-3-Clause, packaging's Apache-2.0 terms) and, for Apache-2.0, with the published
SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt. A project copied before the question
existed gets the default on `copier update`.
"""

import datetime
import hashlib
import re
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import copier
import pytest
import yaml
from conftest import (
    TEMPLATE_ROOT,
    copy_under_git,
    git,
    render,
    run_uv,
    template_versions,
)

CONFIG = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
CHOICES: list[str] = CONFIG["license"]["choices"]
AUTHOR = "Quant Team"
SPDX = {"MIT": "MIT", "Apache-2.0": "Apache-2.0", "BSD-3-Clause": "BSD-3-Clause"}
# The published SHA-256 of apache.org's LICENSE-2.0.txt, no secret.
# pragma: allowlist nextline secret
APACHE_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
APACHE_APPENDIX_COPYRIGHT = "   Copyright [yyyy] [name of copyright owner]\n"


def shipped_license(distribution: str, name: str) -> str:
    """The licence file `name` that an installed distribution ships in its metadata."""
    (path,) = [f for f in metadata.distribution(distribution).files or [] if f.name == name]
    return path.read_text(encoding="utf-8")


def after_copyright(text: str) -> str:
    """The licence terms: everything after the copyright line (and "All rights reserved.")."""
    return re.split(r"(?m)^Copyright .*\n(?:All rights reserved\.\n)?", text, maxsplit=1)[1]


def words(text: str) -> list[str]:
    return text.split()


def this_year_or_last() -> set[int]:
    """The year of generation: a render made just before midnight on 31 December counts too."""
    year = datetime.date.today().year
    return {year, year - 1}


def rendered(tmp_path: Path, license: str) -> Path:
    project = tmp_path / "project"
    answers = render(project, {"license": license, "author_name": AUTHOR}, skip_tasks=True)
    assert answers["license"] == license
    return project


def copyright_year(text: str, pattern: str) -> int:
    match = re.search(pattern, text)
    assert match, f"no copyright line {pattern!r} in:\n{text[:500]}"
    assert int(match["year"]) in this_year_or_last()
    return int(match["year"])


def test_default_is_mit_and_the_choices_are_spdx_ids_or_proprietary() -> None:
    assert CONFIG["license"]["default"] == "MIT"
    assert CHOICES == ["MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"]


def test_mit_license_is_the_canonical_text(tmp_path: Path) -> None:
    text = (rendered(tmp_path, "MIT") / "LICENSE").read_text()
    year = copyright_year(text, rf"^MIT License\n\nCopyright \(c\) (?P<year>\d{{4}}) {AUTHOR}\n\n")
    # copier's LICENSE is GitHub's MIT template filled in: the same bytes after the copyright.
    reference = shipped_license("copier", "LICENSE")
    assert reference.startswith("MIT License\n\nCopyright (c) ")
    assert after_copyright(text) == after_copyright(reference)
    assert f"Copyright (c) {year} {AUTHOR}\n" in text


def test_bsd_3_clause_license_is_the_canonical_text(tmp_path: Path) -> None:
    text = (rendered(tmp_path, "BSD-3-Clause") / "LICENSE").read_text()
    copyright_year(
        text, rf"^BSD 3-Clause License\n\nCopyright \(c\) (?P<year>\d{{4}}), {AUTHOR}\n\n"
    )
    # Jinja's LICENSE.txt has the same words, wrapped otherwise.
    reference = shipped_license("jinja2", "LICENSE.txt")
    assert words(after_copyright(text)) == words(after_copyright(reference))
    assert "3. Neither the name of the copyright holder nor the names of its" in text


def test_apache_license_is_the_canonical_text(tmp_path: Path) -> None:
    text = (rendered(tmp_path, "Apache-2.0") / "LICENSE").read_text()
    filled = re.search(rf"(?m)^   Copyright (?P<year>\d{{4}}) {AUTHOR}\n", text)
    assert filled and int(filled["year"]) in this_year_or_last()
    # Its appendix filled in with the year and the author; unfilled, the file apache.org serves.
    canonical = text.replace(filled[0], APACHE_APPENDIX_COPYRIGHT)
    assert hashlib.sha256(canonical.encode()).hexdigest() == APACHE_SHA256
    terms = text.split("END OF TERMS AND CONDITIONS")[0]
    reference = shipped_license("packaging", "LICENSE.APACHE")
    assert words(terms) == words(reference.split("END OF TERMS AND CONDITIONS")[0])


def test_proprietary_license_reserves_all_rights(tmp_path: Path) -> None:
    project = rendered(tmp_path, "Proprietary")
    text = (project / "LICENSE").read_text()
    copyright_year(text, rf"^Copyright \(c\) (?P<year>\d{{4}}) {AUTHOR}\. All rights reserved\.\n")
    assert f"without the prior written permission of {AUTHOR}." in text
    assert "Proprietary: all rights reserved (`LICENSE`)." in (project / "README.md").read_text()


@pytest.mark.parametrize("license", CHOICES)
def test_pyproject_declares_the_license_and_builds_without_warnings(
    license: str, tmp_path: Path
) -> None:
    project = rendered(tmp_path, license)
    expression = SPDX.get(license, "LicenseRef-Proprietary")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert (pyproject["license"], pyproject["license-files"]) == (expression, ["LICENSE"])

    # A plain render builds: only the build backend is installed, not the project.
    result = run_uv(project, "build", "--out-dir", str(tmp_path / "dist"))
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (meta,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        fields = archive.read(meta).decode()
        (shipped,) = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(shipped).decode() == (project / "LICENSE").read_text()
    assert f"License-Expression: {expression}\n" in fields
    assert "License-File: LICENSE\n" in fields
    with tarfile.open(sdist) as archive:
        assert any(name.endswith("/LICENSE") for name in archive.getnames())


def template_before_the_license_question() -> str:
    """The newest commit whose copier.yml has no `license` question (HEAD while uncommitted)."""
    touching = git(TEMPLATE_ROOT, "rev-list", "HEAD", "--", "copier.yml").split()
    for commit in ["HEAD", *(f"{sha}^" for sha in touching)]:
        config = yaml.safe_load(git(TEMPLATE_ROOT, "show", f"{commit}:copier.yml"))
        if "license" not in config:
            return git(TEMPLATE_ROOT, "rev-parse", commit).strip()
    raise AssertionError("every commit of copier.yml has the license question")


def test_update_of_a_project_from_before_the_question_gets_the_default(tmp_path: Path) -> None:
    # Tags past every registered migration: this update runs none, only the new question.
    repository = template_versions(
        tmp_path / "template", template_before_the_license_question(), "v9.0.0", "v9.1.0"
    )

    project = copy_under_git(repository, tmp_path / "project", "v9.0.0")
    assert not (project / "LICENSE").exists()

    copier.run_update(
        str(project), vcs_ref="v9.1.0", defaults=True, overwrite=True, unsafe=True, quiet=True
    )

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_commit"], answers["license"]) == ("v9.1.0", "MIT")
    assert (project / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) ")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert (pyproject["license"], pyproject["license-files"]) == ("MIT", ["LICENSE"])
    leftovers = [
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file()
        and ".git" not in path.relative_to(project).parts
        and (path.suffix == ".rej" or re.search(rb"(?m)^(<<<<<<<|>>>>>>>) ", path.read_bytes()))
    ]
    assert not leftovers
