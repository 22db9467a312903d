"""The user code image's build steps, replayed without Docker: the files each step copies are
enough for the step after it, and the installed project loads in prod from another directory."""

import glob
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import installed_render, run_uv, uv_environment

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("defaults")]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = dockerfile.replace("\\\n", " ")
    result = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, arguments = line.strip().partition(" ")
            result.append((keyword.upper(), arguments.strip()))
    return result


def test_the_build_stage_installs_a_project_that_loads_in_prod(tmp_path_factory) -> None:
    render = installed_render("defaults", tmp_path_factory)
    steps = instructions((render.path / "deploy" / "Dockerfile").read_text())
    stages = [index for index, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    build, final = steps[stages[0] : stages[1]], steps[stages[1] :]
    app = tmp_path_factory.mktemp("image") / "app"
    app.mkdir()
    environment: dict[str, str] = {}
    for keyword, arguments in build:
        if keyword == "ENV":
            environment |= dict(word.split("=", 1) for word in shlex.split(arguments))
        elif keyword == "COPY":
            *sources, destination = shlex.split(arguments)
            assert destination in {"./", "./src"}, destination
            for source in sources:
                matches = glob.glob(str(render.path / source))
                assert matches or source.endswith("*"), f"COPY {source}: not in the project"
                for match in map(Path, matches):
                    target = app / (match.name if destination == "./" else "src")
                    if match.is_dir():
                        shutil.copytree(match, target, ignore=shutil.ignore_patterns("__pycache__"))
                    else:
                        shutil.copy2(match, target)
        elif keyword == "RUN" and arguments.startswith("uv "):
            run_uv(app, *shlex.split(arguments)[1:], **environment)
    assert ("COPY", "--from=build --chown=dagster /app /app") in final

    # CMD serves `-m <package>.definitions`; Dagster loads `defs` from it, DAGSTER_ENV=prod.
    (command,) = [json.loads(arguments) for keyword, arguments in final if keyword == "CMD"]
    module = command[command.index("-m") + 1]
    load = f"from {module} import defs; d = defs(); print(sorted(d.resources))"
    loaded = subprocess.run(
        [str(app / ".venv" / "bin" / "python"), "-c", load],
        cwd=app.parent,
        env=uv_environment() | {"DAGSTER_ENV": "prod"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    assert "'extract_io_manager'" in loaded.stdout and "'graph'" in loaded.stdout
