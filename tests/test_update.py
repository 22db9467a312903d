"""`copier update` between two template versions: user edits survive, template changes arrive.

A temporary git repository holds the template twice. v1 is the working tree as it is; v2 adds a
file, changes files and moves markdown.py into a reporting package, with the migration that
moves users' copies (hooks/migrations/run.py does the work).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml
from conftest import (
    ANSWER_DEPENDENT_TESTS,
    commit_all,
    copy_template_working_tree,
    git,
    run_uv,
)
from copier.errors import UnsafeTemplateError

V1, V2 = "v1", "v2"
PACKAGE = "dagster_crypto_data"
MOVED_FROM = "src/{{ package_name }}/markdown.py"
MOVED_TO = "src/{{ package_name }}/reporting/markdown.py"

MIGRATION_MODULE = f'''"""2: markdown.py moved into the reporting package."""

MOVES = [("{MOVED_FROM}", "{MOVED_TO}")]
'''
MIGRATION_ENTRY = """\
  - version: "2"
    command:
      - "{{ _copier_python }}"
      - "{{ _copier_conf.src_path }}/hooks/migrations/run.py"
      - v2_reporting_package
      - --answers-file
      - "{{ _copier_conf.answers_file }}"
    when: "{{ true }}"
"""
MARKDOWN_LIST_FUNCTION = '''

def markdown_list(items: list[str]) -> str:
    """Items as a markdown bullet list."""
    return "\\n".join(f"- {item}" for item in items)
'''
README_SECTION = "\n## Reporting\n\nMarkdown helpers for metadata live in `reporting/`.\n"
CHANGELOG = "# Changelog\n\n## 2\n\n- Markdown helpers moved into the reporting package.\n"

WHALE_WATCH = '''"""Our own asset, written after generation: no template update may touch it."""

import dagster as dg


@dg.asset(group_name="ours")
def whale_watch() -> int:
    return 3
'''
WHALE_WATCH_TEST = f'''"""Our test of our own asset."""

import dagster as dg

from {PACKAGE}.assets.whale_watch import whale_watch


def test_whale_watch_counts_whales() -> None:
    result = dg.materialize([whale_watch])
    assert result.success
    assert result.output_for_node("whale_watch") == 3
'''
CHECKS_SUMMARY = "Our house rules for OHLCV quality, edited after generation."
MARKDOWN_SUMMARY = "Markdown for Dagster metadata, tuned by us after generation."
PRINT_ASSET_KEYS = (
    f"from {PACKAGE}.definitions import defs; "
    "print(*sorted(key.to_user_string() for key in defs().resolve_all_asset_keys()))"
)


def make_v2(repository: Path) -> None:
    """Change the template as a release would: a moved file (with a migration), edits, a new file."""
    generated = repository / "template"
    package_dir = generated / "src" / "{{ package_name }}"
    (package_dir / "reporting").mkdir()
    (package_dir / "reporting" / "__init__.py").write_text(
        '"""Helpers that present data in Dagster metadata."""\n'
    )
    moved = package_dir / "reporting" / "markdown.py"
    (package_dir / "markdown.py").rename(moved)
    moved.write_text(moved.read_text() + MARKDOWN_LIST_FUNCTION)
    rewrites = 0
    for path in generated.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".jinja"}:
            text, count = re.subn(
                r"from (\.+)markdown import", r"from \1reporting.markdown import", path.read_text()
            )
            if count:
                path.write_text(text)
                rewrites += count
    assert rewrites, "nothing imports markdown.py any more: let v2 move another module"
    (repository / "hooks" / "migrations" / "v2_reporting_package.py").write_text(MIGRATION_MODULE)
    config = repository / "copier.yml"
    config.write_text(config.read_text() + MIGRATION_ENTRY)
    migrations = yaml.safe_load(config.read_text())["_migrations"]
    assert migrations[-1]["version"] == "2", "copier.yml must end with its _migrations list"

    (generated / "CHANGELOG.md").write_text(CHANGELOG)
    readme = generated / "README.md.jinja"
    readme.write_text(readme.read_text() + README_SECTION)


@pytest.fixture(scope="module")
def template_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repository = copy_template_working_tree(tmp_path_factory.mktemp("template") / "repository")
    git(repository, "init", "--quiet", "--initial-branch", "main")
    commit_all(repository, "Template v1: the working tree")
    git(repository, "tag", V1)
    make_v2(repository)
    commit_all(repository, "Template v2: reporting package, changelog")
    git(repository, "tag", V2)
    return repository


@pytest.fixture(scope="module")
def v1_project(template_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default project copied from v1 with its tasks: .env and a first commit. Copy to change."""
    project = tmp_path_factory.mktemp("v1") / "project"
    copier.run_copy(
        str(template_repository), str(project), vcs_ref=V1, defaults=True, unsafe=True, quiet=True
    )
    return project


def copy_of(project: Path, destination: Path) -> Path:
    return Path(shutil.copytree(project, destination, symlinks=True))


def update(project: Path, **options) -> None:
    options = {"defaults": True, "overwrite": True, "unsafe": True, "quiet": True} | options
    copier.run_update(str(project), vcs_ref=V2, **options)


def edit_docstring_summary(path: Path, summary: str) -> None:
    """Replace the first line of a module docstring, as a user would."""
    first, rest = path.read_text().split("\n", 1)
    assert first.startswith('"""'), f"{path} starts with no docstring: {first}"
    closing = '"""' if len(first) > 6 and first.endswith('"""') else ""
    path.write_text(f'"""{summary}{closing}\n{rest}')


def set_env_value(project: Path, name: str, value: str) -> None:
    env = project / ".env"
    text, count = re.subn(rf"(?m)^{name}=.*$", f"{name}={value}", env.read_text())
    assert count == 1, f"{name} is not in .env"
    env.write_text(text)


def project_files(project: Path) -> dict[str, bytes]:
    """Every file of a project except git metadata and the machine-local .env."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts and path.name != ".env"
    }


def env_names(project: Path) -> list[str]:
    return re.findall(r"(?m)^([A-Z_][A-Z0-9_]*)=", (project / ".env").read_text())


def check_update(project: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "copier", "check-update", "--output-format", "json", str(project)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def leftover_conflicts(project: Path) -> list[str]:
    """Files with conflict markers, and .rej files, anywhere in the project."""
    found = []
    for path in project.rglob("*"):
        if not path.is_file() or {".git", ".venv"} & set(path.relative_to(project).parts):
            continue
        if path.suffix == ".rej" or re.search(rb"(?m)^(<<<<<<<|>>>>>>>) ", path.read_bytes()):
            found.append(path.relative_to(project).as_posix())
    return found


@pytest.mark.xdist_group("update")
def test_check_update_reports_the_new_version(v1_project: Path) -> None:
    assert check_update(v1_project) == {
        "update_available": True,
        "current_version": "1",
        "latest_version": "2",
    }


@pytest.mark.xdist_group("update")
def test_update_without_trust_is_refused_even_with_skip_tasks(
    v1_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No user settings may mark the template as trusted.
    (tmp_path / "settings.yml").write_text("defaults: {}\n")
    monkeypatch.setenv("COPIER_SETTINGS_PATH", str(tmp_path / "settings.yml"))
    head = git(v1_project, "rev-parse", "HEAD")
    with pytest.raises(UnsafeTemplateError, match="migrations"):
        update(v1_project, unsafe=False, skip_tasks=True)
    assert git(v1_project, "rev-parse", "HEAD") == head
    assert not git(v1_project, "status", "--porcelain")


@pytest.mark.xdist_group("update")
def test_unedited_project_updates_to_exactly_a_fresh_render(
    template_repository: Path, v1_project: Path, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    updated = copy_of(v1_project, tmp_path / "updated")
    capfd.readouterr()
    update(updated, quiet=False)
    message = capfd.readouterr().err
    for command in (
        f"cd {updated}",
        "git diff",
        "git grep --untracked -n '^<<<<<<< '",
        "git ls-files --others --exclude-standard '*.rej'",
        "uv sync",
        "uv run pytest",
    ):
        assert command in message, message

    fresh = tmp_path / "fresh"
    copier.run_copy(
        str(template_repository), str(fresh), vcs_ref=V2, defaults=True, unsafe=True, quiet=True
    )
    assert project_files(updated) == project_files(fresh)
    assert env_names(updated) == env_names(fresh)
    assert check_update(updated)["update_available"] is False


@pytest.mark.xdist_group("update")
def test_update_with_defaults_keeps_previous_answers(
    template_repository: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    answers = {
        "project_name": "Alt Data",
        "package_name": "alt_data",
        "exchanges": ["okx", "kraken"],
        "symbols": ["ETH/BTC", "SOL/USDT"],
        "timeframe": "4h",
        "partitions_start_date": "2023-06-15",
        "author_email": "quant@example.org",
    }
    copier.run_copy(
        str(template_repository),
        str(project),
        data=answers,
        vcs_ref=V1,
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    answers_file, settings = project / ".copier-answers.yml", project / "src/alt_data/settings.py"
    before, settings_before = yaml.safe_load(answers_file.read_text()), settings.read_text()

    update(project)

    after = yaml.safe_load(answers_file.read_text())
    assert after.pop("_commit") == V2
    assert after == {key: value for key, value in before.items() if key != "_commit"}
    assert settings.read_text() == settings_before
    assert (project / "src/alt_data/reporting/markdown.py").is_file()


@pytest.mark.slow
@pytest.mark.xdist_group("update-slow")
def test_update_keeps_user_edits_and_applies_template_changes(
    v1_project: Path, tmp_path: Path, dagster_home: Path
) -> None:
    project = copy_of(v1_project, tmp_path / "project")
    package_dir = project / "src" / PACKAGE
    assert not git(project, "status", "--porcelain"), "the copy task committed everything"
    # The user's own work: a new asset module with its test, edited generated files, a .env value.
    (package_dir / "assets" / "whale_watch.py").write_text(WHALE_WATCH)
    (project / "tests" / "test_whale_watch.py").write_text(WHALE_WATCH_TEST)
    edit_docstring_summary(package_dir / "checks.py", CHECKS_SUMMARY)
    edit_docstring_summary(package_dir / "markdown.py", MARKDOWN_SUMMARY)
    set_env_value(project, "S3_BUCKET", "our-crypto-bucket")
    commit_all(project, "Our whale watch and edits")
    env_before = (project / ".env").read_text()

    # v2, and one more exchange in the answers.
    update(project, data={"exchanges": ["binance", "kraken"]})

    assert leftover_conflicts(project) == []
    # The user's work is intact.
    assert (package_dir / "assets" / "whale_watch.py").read_text() == WHALE_WATCH
    assert (project / "tests" / "test_whale_watch.py").read_text() == WHALE_WATCH_TEST
    assert (project / ".env").read_text() == env_before
    checks = (package_dir / "checks.py").read_text()
    assert checks.startswith(f'"""{CHECKS_SUMMARY}\n')
    # The template's changes arrived, in the edited files too.
    assert "from .reporting.markdown import markdown_table" in checks
    assert not (package_dir / "markdown.py").exists()
    moved = (package_dir / "reporting" / "markdown.py").read_text()
    assert moved.startswith(f'"""{MARKDOWN_SUMMARY}"""\n')
    assert moved.endswith(MARKDOWN_LIST_FUNCTION)
    assert (package_dir / "reporting" / "__init__.py").is_file()
    assert (project / "CHANGELOG.md").read_text() == CHANGELOG
    assert (project / "README.md").read_text().endswith(README_SECTION)
    # The new answer reached the settings the assets are built from.
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_commit"], answers["exchanges"]) == (V2, ["binance", "kraken"])
    assert '"kraken",' in (package_dir / "settings.py").read_text()

    # The updated project installs, loads the new exchange's assets and passes every test
    # (`dagster definitions validate` of renders is test_generated_projects' part).
    run_uv(project, "sync", "--quiet")
    dagster_env = {"DAGSTER_HOME": str(dagster_home)}
    asset_keys = run_uv(
        project, "run", "--frozen", "python", "-c", PRINT_ASSET_KEYS, **dagster_env
    ).stdout.split()
    assert {"raw/binance_ohlcv", "raw/kraken_ohlcv"} <= set(asset_keys), asset_keys
    # What the answers and the update change, the user's test included; the storage tests do
    # not depend on either and run on the defaults' render (test_generated_projects).
    tests = run_uv(
        project,
        "run",
        "--frozen",
        "pytest",
        "-v",
        "-p",
        "no:cacheprovider",
        *ANSWER_DEPENDENT_TESTS,
        timeout=1800,
    )
    assert "test_whale_watch.py::test_whale_watch_counts_whales PASSED" in tests.stdout
    assert " skipped" not in tests.stdout.splitlines()[-1], tests.stdout[-3000:]
