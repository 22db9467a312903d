"""Migrations (hooks/migrations/): the runner's file moves on a tiny template, the real
sync_env_file migration on the real template, updating from an untagged version to 0.1.0, and
the real v0_2_0_layout moves, updating from the template before them to the working tree."""

import importlib.util
import re
import shutil
import stat
from pathlib import Path

import copier
import pytest
from conftest import (
    TEMPLATE_ROOT,
    commit_all,
    copy_template_working_tree,
    copy_under_git,
    git,
    template_versions,
)

TABLES_V1 = '''"""Tables, as the template first wrote them."""


def header() -> str:
    return "| a | b |"


def separator() -> str:
    return "|---|---|"


def footer() -> str:
    return ""
'''
MIGRATION_MODULE = '''"""2: tables.py moved into the present package."""

MOVES = [("src/{{ package_name }}/tables.py", "src/{{ package_name }}/present/tables.py")]
'''
TINY_CONFIG = """\
package_name:
  type: str
  default: tiny
_subdirectory: template
_migrations:
  - version: "2"
    command:
      - "{{ _copier_python }}"
      - "{{ _copier_conf.src_path }}/hooks/migrations/run.py"
      - v2_present_package
      - --answers-file
      - "{{ _copier_conf.answers_file }}"
    when: "{{ true }}"
"""
OLD, NEW = "src/tiny/tables.py", "src/tiny/present/tables.py"


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 writes src/<pkg>/tables.py; v2 moves it to present/ and changes its footer()."""
    repository = tmp_path_factory.mktemp("tiny") / "template"
    shutil.copytree(
        TEMPLATE_ROOT / "hooks", repository / "hooks", ignore=shutil.ignore_patterns("__pycache__")
    )
    (repository / "copier.yml").write_text(TINY_CONFIG.split("_migrations:")[0])
    generated = repository / "template"
    (generated / "src" / "{{ package_name }}").mkdir(parents=True)
    (generated / "src" / "{{ package_name }}" / "tables.py").write_text(TABLES_V1)
    (generated / "{{ _copier_conf.answers_file }}.jinja").write_text(
        "{{ _copier_answers | to_nice_yaml -}}\n"
    )
    git(repository, "init", "--quiet")
    commit_all(repository, "v1")
    git(repository, "tag", "v1")

    moved = generated / "src" / "{{ package_name }}" / "present" / "tables.py"
    moved.parent.mkdir()
    (generated / "src" / "{{ package_name }}" / "tables.py").rename(moved)
    moved.write_text(TABLES_V1.replace('return ""', 'return "|   |   |"'))
    (repository / "hooks" / "migrations" / "v2_present_package.py").write_text(MIGRATION_MODULE)
    (repository / "copier.yml").write_text(TINY_CONFIG)
    commit_all(repository, "v2")
    git(repository, "tag", "v2")
    return repository


def tiny_project(template: Path, destination: Path, edit=None) -> Path:
    """A v1 project under git, with the user's `edit(project)` committed."""
    copier.run_copy(str(template), str(destination), vcs_ref="v1", defaults=True, quiet=True)
    git(destination, "init", "--quiet")
    commit_all(destination, "Generated")
    if edit:
        edit(destination)
        commit_all(destination, "Our edits")
    return destination


def update_to_v2(project: Path, conflict: str = "inline") -> None:
    copier.run_update(
        str(project),
        vcs_ref="v2",
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        conflict=conflict,
    )


def edit_header(project: Path) -> None:
    tables = project / OLD
    tables.write_text(tables.read_text().replace('"| a | b |"', '"| base | quote |"'))


@pytest.mark.parametrize("conflict", ["inline", "rej"])
def test_moved_file_keeps_the_user_edit_and_gets_the_template_change(
    tiny_template: Path, tmp_path: Path, conflict: str, capfd: pytest.CaptureFixture
) -> None:
    project = tiny_project(tiny_template, tmp_path / "p", edit=edit_header)

    update_to_v2(project, conflict)

    assert not (project / OLD).exists()
    moved = (project / NEW).read_text()
    assert '"| base | quote |"' in moved and 'return "|   |   |"' in moved
    assert moved == TABLES_V1.replace('"| a | b |"', '"| base | quote |"').replace(
        'return ""', 'return "|   |   |"'
    )
    assert not list(project.rglob("*.rej"))
    assert f"{OLD} -> {NEW}: your edits kept" in capfd.readouterr().out


def test_moved_file_unedited_is_the_new_version(tiny_template: Path, tmp_path: Path) -> None:
    project = tiny_project(tiny_template, tmp_path / "p")
    update_to_v2(project)
    assert not (project / OLD).exists()
    assert (project / NEW).read_text() == TABLES_V1.replace('return ""', 'return "|   |   |"')


def test_moved_file_the_user_deleted_stays_deleted(tiny_template: Path, tmp_path: Path) -> None:
    project = tiny_project(tiny_template, tmp_path / "p", edit=lambda p: (p / OLD).unlink())
    update_to_v2(project)
    assert not (project / OLD).exists()
    assert not (project / NEW).exists()


def test_moved_file_with_a_clashing_edit_is_marked_as_a_conflict(
    tiny_template: Path, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    def edit_footer(project: Path) -> None:
        tables = project / OLD
        tables.write_text(tables.read_text().replace('return ""', 'return "-- end --"'))

    project = tiny_project(tiny_template, tmp_path / "p", edit=edit_footer)
    update_to_v2(project)

    moved = (project / NEW).read_text()
    # Copier's own labels, so that one search finds every conflict of the update.
    assert '<<<<<<< before updating\n    return "-- end --"\n=======\n' in moved
    assert '    return "|   |   |"\n>>>>>>> after updating\n' in moved
    assert "1 conflict(s) marked with <<<<<<< in tables.py" in capfd.readouterr().out


def test_env_file_catches_up_with_env_example_on_update_to_0_1_0(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    """Projects copied before 0.1.0 got a .env without the S3 and PostgreSQL variables."""
    repository = copy_template_working_tree(tmp_path / "template")
    example = repository / "template" / ".env.example"
    current = example.read_text()
    # Until commit 301fb1c, .env.example ended after DATA_DIR; it set DAGSTER_ENV and DATA_DIR
    # to their defaults (a value in .env beats the shell's, so they are comments now).
    early = re.sub(
        r"(?m)^# (DAGSTER_ENV|DATA_DIR)=",
        r"\1=",
        current[: current.index("\n", current.index("DATA_DIR=")) + 1],
    )
    # It also published EXCHANGE_MODE=replay for every environment (unset now).
    early = early.replace("# EXCHANGE_MODE=live", "EXCHANGE_MODE=replay")
    assert "\nEXCHANGE_MODE=replay\n" in early
    example.write_text(early)
    git(repository, "init", "--quiet")
    commit_all(repository, "An untagged development version")
    untagged = git(repository, "rev-parse", "HEAD").strip()
    example.write_text(current)
    commit_all(repository, "Release 0.1.0")
    git(repository, "tag", "v0.1.0")

    project = tmp_path / "project"
    copier.run_copy(
        str(repository), str(project), vcs_ref=untagged, defaults=True, unsafe=True, quiet=True
    )
    env = project / ".env"
    assert env.read_text().startswith(early)
    env.write_text(early.replace("EXCHANGE_MODE=replay", "EXCHANGE_MODE=live"))
    capfd.readouterr()

    copier.run_update(
        str(project), vcs_ref="v0.1.0", defaults=True, overwrite=True, unsafe=True, quiet=True
    )

    text = env.read_text()
    assert "# Added by copier update (template 0.1.0)" in text
    values = dict(re.findall(r"(?m)^([A-Z_][A-Z0-9_]*)=(.*)$", text))
    published = dict(re.findall(r"(?m)^([A-Z_][A-Z0-9_]*)=(.*)$", current))
    # The user's own value stays; switches still at their defaults no longer beat the shell's.
    assert values.pop("EXCHANGE_MODE") == "live"
    assert "EXCHANGE_MODE" not in published
    assert "# DAGSTER_ENV=dev" in text.splitlines() and "# DATA_DIR=data" in text.splitlines()
    assert values.pop("DAGSTER_HOME") == str((project / ".dagster_home").resolve())
    assert values.keys() == published.keys()
    for name in ("POSTGRES_PASSWORD", "S3_SECRET_KEY"):
        assert values.pop(name) != published.pop(name)
    assert values == published
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "Added to .env from .env.example: " in capfd.readouterr().out


def test_env_file_unpins_the_replay_mode_that_old_versions_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unset, staging and prod extract live data; an .env still holding the value every old
    # .env.example published would keep them replaying. A value of the user's own stays.
    monkeypatch.syspath_prepend(str(TEMPLATE_ROOT / "hooks"))
    path = TEMPLATE_ROOT / "hooks" / "migrations" / "sync_env_file.py"
    spec = importlib.util.spec_from_file_location("sync_env_file_under_test", path)
    assert spec is not None and spec.loader is not None
    sync_env_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync_env_file)
    env = tmp_path / ".env"
    env.write_text("EXCHANGE_MODE=replay\nDATA_DIR=/srv/data\n")  # pragma: allowlist secret
    assert sync_env_file.unpin_default_switches(tmp_path) == ["EXCHANGE_MODE"]
    assert env.read_text() == "# EXCHANGE_MODE=replay\nDATA_DIR=/srv/data\n"
    env.write_text("EXCHANGE_MODE=live\n")
    assert sync_env_file.unpin_default_switches(tmp_path) == []
    assert env.read_text() == "EXCHANGE_MODE=live\n"


def layout_moves() -> list[tuple[str, str]]:
    """MOVES of hooks/migrations/v0_2_0_layout.py, with the default package name filled in."""
    path = TEMPLATE_ROOT / "hooks" / "migrations" / "v0_2_0_layout.py"
    spec = importlib.util.spec_from_file_location("v0_2_0_layout", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [
        (
            old.replace("{{ package_name }}", "dagster_crypto_data"),
            new.replace("{{ package_name }}", "dagster_crypto_data"),
        )
        for old, new in module.MOVES
    ]


def template_before_the_moves(moves: list[tuple[str, str]]) -> str:
    """The newest commit of this repository whose template still has every old path of MOVES.

    HEAD itself while the moves are uncommitted; else the parent of the oldest commit that
    moved one of them.
    """
    old = [
        f"template/{path}".replace("dagster_crypto_data", "{{ package_name }}") for path, _ in moves
    ]
    touching = git(TEMPLATE_ROOT, "rev-list", "HEAD", "--", *old).split()
    for commit in ["HEAD", *(f"{sha}^" for sha in touching)]:
        present = git(TEMPLATE_ROOT, "ls-tree", "-r", "--name-only", commit, "--", *old)
        if len(present.splitlines()) == len(old):
            return git(TEMPLATE_ROOT, "rev-parse", commit).strip()
    raise AssertionError(f"no commit of the template holds every old path of MOVES: {old}")


REPLAY_EDIT = '''

def replay_days_kept() -> int:
    """Ours: how many days of replayed candles our notebooks look at."""
    return 7
'''


def test_layout_moves_keep_edits_on_update_to_0_2_0(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    """0.1.0 is the template before the moves (from git history), 0.2.0 the working tree."""
    moves = layout_moves()
    repository = template_versions(
        tmp_path / "template", template_before_the_moves(moves), "v0.1.0", "v0.2.0"
    )

    project = copy_under_git(repository, tmp_path / "project", "v0.1.0")
    for old, _ in moves:
        assert (project / old).is_file(), f"0.1.0 did not generate {old}"
    edited = {
        "src/dagster_crypto_data/resources/replay/base.py": REPLAY_EDIT,
        # transport.py also changes in 0.2.0 (its error message): the two edits merge.
        "src/dagster_crypto_data/resources/replay/transport.py": REPLAY_EDIT,
    }
    for old, edit in edited.items():
        (project / old).write_text((project / old).read_text() + edit)
    commit_all(project, "Our replay helpers")
    capfd.readouterr()

    copier.run_update(
        str(project), vcs_ref="v0.2.0", defaults=True, overwrite=True, unsafe=True, quiet=True
    )

    output = capfd.readouterr().out
    generated = repository / "template"
    for old, new in moves:
        assert not (project / old).exists(), f"{old} was not moved"
        assert f"{old} -> {new}: your edits kept" in output
        template_new = generated / new.replace("dagster_crypto_data", "{{ package_name }}")
        if template_new.is_file():  # verbatim (not .jinja): the user's edit on the new version
            expected = template_new.read_text() + edited.get(old, "")
            assert (project / new).read_text() == expected, f"{old} -> {new}"
    transport = "template/src/{{ package_name }}/resources/replay/transport.py"
    assert (
        git(repository, "show", f"v0.1.0:{transport}")
        != (generated / "src/{{ package_name }}/replay/transport.py").read_text()
    ), "transport.py no longer changes in 0.2.0: the merge above is not exercised"
    assert not (project / "src/dagster_crypto_data/resources/replay").exists()
    assert not (project / "src/dagster_crypto_data/testing").exists()
    # Split (not moved) IO manager modules: unedited, Copier removes them; the packages hold them.
    io_managers = project / "src/dagster_crypto_data/io_managers"
    for split in ("base.py", "s3.py", "sql.py", "kuzu.py"):
        assert not (io_managers / split).exists(), f"io_managers/{split} left behind"
    for package in ("core", "files", "tables", "s3", "sql", "kuzu"):
        assert (io_managers / package / "__init__.py").is_file()
    leftovers = [
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file()
        and ".git" not in path.relative_to(project).parts
        and (path.suffix == ".rej" or re.search(rb"(?m)^(<<<<<<<|>>>>>>>) ", path.read_bytes()))
    ]
    assert not leftovers
