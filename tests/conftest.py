"""Fixtures of the template's own tests: each answer set is rendered (and installed) once.

Renders come from the committed template plus any uncommitted changes (`vcs_ref="HEAD"`), and
every `uv` call shares one cache, so the answer sets cost one resolution between them.
"""

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
COPIER_CONFIG: dict[str, Any] = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())


def pythons_found() -> list[str]:
    """The python_version choices this machine has an interpreter for (`uv python find`); a
    render can only be installed and tested with those. uv never downloads one here."""
    found = []
    for version in COPIER_CONFIG["python_version"]["choices"]:
        probe = subprocess.run(
            [*uv_bin(), "python", "find", "--no-project", version],
            env=os.environ | {"UV_PYTHON_DOWNLOADS": "never"},
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            found.append(version)
    return found


def uv_bin() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


PYTHONS_FOUND = pythons_found()


def python_found(index: int) -> str:
    """A python_version this machine has: the answer sets of the edge matrix take them in turn,
    so with several interpreters each is installed and tested by some render."""
    found = PYTHONS_FOUND or [COPIER_CONFIG["python_version"]["default"]]
    return found[index % len(found)]


# The latest first day the questions accept: 90 days back. The project's tests then run on days
# ten weeks after it, the newest days any render's tests use.
LATEST_START_DATE = date.today() - timedelta(days=90)

# Answer sets rendered by the tests: the defaults, two that move every axis the template has,
# and an edge matrix (the last three; the 15m set starts on the latest first day the questions
# accept): every exchange, every timeframe (1m over whole days on
# every exchange), symbols the replay recordings lack, a non-ASCII name, the earliest allowed
# start date, a leap day, and each Python version the machine has. Each is rendered,
# installed, linted, loaded and demoed (tests/test_answer_matrix.py); SUITES says how much of
# its own test suite each runs.
ANSWER_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "all_exchanges_15m": {
        "project_name": "Market Lake",
        "package_name": "market_lake",
        "exchanges": ["binance", "bybit", "okx", "kraken"],
        "symbols": ["BTC/USDT", "ETH/USDT", "SOL/USDT"],
        "timeframe": "15m",
        "partitions_start_date": LATEST_START_DATE.isoformat(),
        "license": "Apache-2.0",
    },
    "kraken_okx_4h": {
        "project_name": "Alt Data",
        "project_slug": "alt-data-pipeline",
        "package_name": "alt_data",
        "exchanges": ["okx", "kraken"],
        "symbols": ["ETH/BTC", "SOL/USDT"],
        "timeframe": "4h",
        "partitions_start_date": "2023-06-15",
        "author_name": "Quant Team",
        "author_email": "quant@example.org",
        "license": "Proprietary",
    },
    # A new user's answers: SOL/USDC is in no Binance or Kraken recording.
    "unicode_1m_every_exchange": {
        "project_name": "Ünïcode Desk — Crypto",
        "exchanges": ["binance", "bybit", "okx", "kraken"],
        "symbols": ["BTC/USDT", "ETH/BTC", "SOL/USDC"],
        "timeframe": "1m",
        "partitions_start_date": "2023-12-30",
        "python_version": python_found(0),
    },
    # No recording lists any of these symbols; 2010-01-01 is the earliest start allowed.
    "earliest_day_5m_unrecorded": {
        "project_name": "Früh Straße Крипто",
        "exchanges": ["bybit", "kraken"],
        "symbols": ["DOGE/BTC", "PEPE/EUR", "LUNA/USD"],
        "timeframe": "5m",
        "partitions_start_date": "2010-01-01",
        "python_version": python_found(1),
    },
    "leap_day_1d": {
        "project_name": "Leap Desk",
        "exchanges": ["okx", "binance"],
        "symbols": ["LINK/BTC", "ETH/USDT", "REP/EUR"],
        "timeframe": "1d",
        "partitions_start_date": "2024-02-29",
        "license": "BSD-3-Clause",
        "python_version": python_found(2),
    },
}

# The day each answer set's demo materializes: the first days of the start-date edges.
DEMO_DAYS: dict[str, str] = {
    "defaults": "2024-01-02",
    "all_exchanges_15m": (LATEST_START_DATE + timedelta(days=1)).isoformat(),
    "kraken_okx_4h": "2024-01-02",
    "unicode_1m_every_exchange": "2023-12-31",
    "earliest_day_5m_unrecorded": "2010-01-01",
    "leap_day_1d": "2024-02-29",
}

# How much of its own suite each render runs, in parts that run as separate tests. Storage
# backends and the process topology do not depend on the answers: the defaults run the whole
# suite, in two parts of similar length (the IO manager tests, about 8 minutes alone, and the
# rest) that can run on different workers; the 4h render and the 1m render on every exchange
# what the answers change (exchanges, symbols, timeframe, names); the others the replay,
# extract, pipeline and definitions tests their edges reach (every exchange is already covered
# by the 1m render). A path with `*` is a glob, expanded in the render.
IO_MANAGER_TESTS = ["tests/test_io_*.py"]
ANSWER_DEPENDENT_TESTS = ["--ignore-glob=tests/test_io_*.py", "--ignore=tests/test_topology.py"]
EDGE_TESTS = [
    "tests/test_exchange.py",
    "tests/test_replay_synthetic.py",
    "tests/test_pipeline.py",
    "tests/test_definitions.py",
]
# The tests that run the project's own assets on fixed days, moved after a late first day.
LATE_START_TESTS = [
    *EDGE_TESTS,
    "tests/test_automation.py",
    "tests/test_charts.py",
    "tests/test_graph_backfill.py",
    "tests/test_storage_cli.py",
    "tests/test_any_store.py",
]
SUITES: dict[str, dict[str, list[str]]] = {
    "defaults": {
        "io-managers": IO_MANAGER_TESTS,
        "the-rest": [f"--ignore-glob={IO_MANAGER_TESTS[0]}"],
    },
    "all_exchanges_15m": {"late-start": LATE_START_TESTS},
    "kraken_okx_4h": {"answer-dependent": ANSWER_DEPENDENT_TESTS},
    "unicode_1m_every_exchange": {"answer-dependent": ANSWER_DEPENDENT_TESTS},
    "earliest_day_5m_unrecorded": {"edges": EDGE_TESTS},
    "leap_day_1d": {"edges": EDGE_TESTS},
}
# The xdist group of a suite part other than the answer set's own, so that xdist can put it on
# another worker (which then renders the answer set once more, about a minute). Under pytest
# 9.2, xdist 3.8 groups nothing (pytest-dev/pytest-xdist#1386) and every test is its own unit.
SUITE_PART_GROUPS: dict[tuple[str, str], str] = {("defaults", "io-managers"): "defaults-io"}

# Long tests alone in their xdist group. xdist hands out the groups with the most tests first,
# then the others in collection order (every test, while it groups nothing): these are
# collected first so that none of them starts last and runs alone at the end.
LONG_SINGLE_GROUPS = ("defaults-io", "bench", "update-slow", "skip_tasks")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def xdist_group(item: pytest.Item) -> str | None:
        marker = item.get_closest_marker("xdist_group")
        return None if marker is None else (marker.args or [marker.kwargs.get("name")])[0]

    items.sort(key=lambda item: xdist_group(item) not in LONG_SINGLE_GROUPS)


def suite_arguments(project: Path, arguments: list[str]) -> list[str]:
    """A suite part's pytest arguments, its globs expanded in the render (pytest takes none)."""
    expanded: list[str] = []
    for argument in arguments:
        if "*" in argument and not argument.startswith("-"):
            matches = sorted(
                path.relative_to(project).as_posix() for path in project.glob(argument)
            )
            assert matches, f"{argument} matches no file in {project}"
            expanded.extend(matches)
        else:
            expanded.append(argument)
    return expanded


@dataclass(frozen=True)
class Render:
    name: str
    path: Path
    answers: dict[str, Any]

    @property
    def package(self) -> str:
        return self.answers["package_name"]


def render(destination: Path, data: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """Render the template into `destination` and return the recorded answers."""
    options = {"defaults": True, "vcs_ref": "HEAD", "quiet": True, "unsafe": True} | options
    copier.run_copy(str(TEMPLATE_ROOT), str(destination), data=dict(data), **options)
    return yaml.safe_load((destination / ".copier-answers.yml").read_text())


def uv_environment() -> dict[str, str]:
    """The caller's environment minus anything that would point uv at another virtualenv."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env.setdefault("UV_CACHE_DIR", str(TEMPLATE_ROOT / ".cache" / "uv"))
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    return env


# What Dagster, Python and libraries print for a command a project should no longer teach.
OUTDATED_COMMAND_WARNING = re.compile(
    r"\b(?:Supersession|Deprecation|PendingDeprecation|Future)Warning\b"
)


def assert_no_outdated_warning(command: str, output: str) -> None:
    """A command the project teaches runs without a supersession or deprecation warning."""
    found = OUTDATED_COMMAND_WARNING.search(output)
    assert not found, f"`{command}` printed a {found.group(0) if found else ''}:\n" + "\n".join(
        line for line in output.splitlines() if OUTDATED_COMMAND_WARNING.search(line)
    )


def run_uv(
    project: Path, *args: str, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess:
    """Run `uv <args>` in a rendered project; a failure shows the command's whole output.

    Every command the tests run is one a README, doc or error message teaches, so it must also
    run without a supersession or deprecation warning (printed by default, pytest's summary
    included).

    A pytest run in the project gets its own temp root: pytest keeps only the three newest
    sessions' directories under the shared one, so nested sessions sharing it would delete each
    other's (and this session's) files, renders and their virtualenvs included, mid-run.
    """
    temp_root = project.parent / "pytest-temp"
    temp_root.mkdir(exist_ok=True)
    result = subprocess.run(
        [*uv_bin(), *args],
        cwd=project,
        env=uv_environment() | {"PYTEST_DEBUG_TEMPROOT": str(temp_root)} | env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"`uv {' '.join(args)}` failed in {project} ({result.returncode}):\n"
        f"{result.stdout[-8000:]}\n{result.stderr[-8000:]}"
    )
    assert_no_outdated_warning(f"uv {' '.join(args)}", result.stdout + result.stderr)
    return result


# Commits made by the tests themselves work on machines without a git identity.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run `git <args>` in `cwd` and return its output; a failure shows git's message."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=os.environ | GIT_IDENTITY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"`git {' '.join(args)}` failed in {cwd}:\n{result.stderr}"
    return result.stdout


def commit_all(repository: Path, message: str) -> None:
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message)


def copy_template_working_tree(destination: Path) -> Path:
    """Copy the template repository as it is now: tracked and untracked files, minus ignored ones."""
    listed = git(TEMPLATE_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE_ROOT / name
        if source.is_file():  # tracked files deleted in the working tree are listed too
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def template_versions(repository: Path, old_revision: str, old_tag: str, new_tag: str) -> Path:
    """A template repository with two tagged releases: `old_revision` of this template's git
    history as `old_tag`, and the working tree as it is now as `new_tag`."""
    repository.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", old_revision],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(repository, filter="data")
    git(repository, "init", "--quiet", "--initial-branch", "main")
    commit_all(repository, f"Release {old_tag}")
    git(repository, "tag", old_tag)
    for child in repository.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    copy_template_working_tree(repository)
    commit_all(repository, f"Release {new_tag}")
    git(repository, "tag", new_tag)
    return repository


def copy_under_git(repository: Path, project: Path, tag: str) -> Path:
    """The project of `repository` at `tag` (defaults, no tasks), committed in its own repository
    as a user's project is before `copier update`."""
    copier.run_copy(
        str(repository),
        str(project),
        vcs_ref=tag,
        defaults=True,
        quiet=True,
        unsafe=True,
        skip_tasks=True,
    )
    git(project, "init", "--quiet")
    commit_all(project, "Generated")
    return project


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GraphQLErrors(AssertionError):
    """The Dagster webserver answered a GraphQL request with errors."""


def graphql(port: int, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `data` of a GraphQL request to the webserver on `port`; errors raise GraphQLErrors."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    if answer.get("errors"):
        raise GraphQLErrors(answer["errors"])
    return answer["data"]


UI_STARTUP_TIMEOUT_SECONDS = 180
UI_READY_QUERY = "{ assetNodes { assetKey { path } } }"


@contextmanager
def ui_server(project: Path, command: list[str], log_path: Path) -> Iterator[int]:
    """`uv run <command> --host 127.0.0.1 --port N` in a render (`dg dev`, `dagster dev`), with
    no DAGSTER_HOME or DAGSTER_ENV set by hand; yields N once the code location is loaded, and
    stops the whole process group afterwards."""
    port = free_port()
    env = {k: v for k, v in uv_environment().items() if k not in {"DAGSTER_HOME", "DAGSTER_ENV"}}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*uv_bin(), "run", "--frozen", *command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + UI_STARTUP_TIMEOUT_SECONDS
            loaded = False
            while not loaded and time.monotonic() < deadline and server.poll() is None:
                try:
                    loaded = bool(graphql(port, UI_READY_QUERY)["assetNodes"])
                except (urllib.error.URLError, ConnectionError, KeyError, TypeError, GraphQLErrors):
                    pass
                if not loaded:
                    time.sleep(1)
            log.flush()
            assert loaded, log_path.read_text()[-5000:]
            yield port
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


_renders: dict[str, Render] = {}


def installed_render(name: str, tmp_path_factory: pytest.TempPathFactory) -> Render:
    """The answer set `name`, rendered and `uv sync`-ed once per test session (per worker)."""
    if name not in _renders:
        path = tmp_path_factory.mktemp(f"render-{name}") / "project"
        answers = render(path, ANSWER_SETS[name])
        run_uv(path, "sync", "--quiet")
        _renders[name] = Render(name=name, path=path, answers=answers)
    return _renders[name]


@pytest.fixture(scope="session")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DAGSTER_HOME with telemetry off for every Dagster process the tests start."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home
