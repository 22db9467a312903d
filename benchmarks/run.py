"""`make bench`: render the default project, run the suite in it with the peers, write the report.

    uv run python -m benchmarks.run --rows 1000000 --repeats 5

Writes benchmarks/results.json and docs/performance.md (see --json and --markdown). The peers
are added to the rendered project's environment for this run only (`uv run --with`), so they
never become dependencies of the generated project. --project reuses an installed render.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .report import write_report

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROJECT = TEMPLATE_ROOT / "build" / "bench" / "dagster-crypto-data"
# Peers, pinned to the lines that support the project's dagster 1.13. s3fs is left out on
# purpose: its aiobotocore pins an older botocore, which would replace the project's boto3.
PEERS = (
    "dagster-duckdb-polars>=0.29,<0.30",
    "dagster-polars>=0.27,<0.28",
    "dagster-aws>=0.29,<0.30",
    "pandas>=2.2",
)


def uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def environment(dagster_home: Path) -> dict[str, str]:
    """This environment, minus the template's own virtualenv, plus telemetry off."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env.setdefault("UV_CACHE_DIR", str(TEMPLATE_ROOT / ".cache" / "uv"))
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env["DAGSTER_HOME"] = str(dagster_home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TEMPLATE_ROOT), env.get("PYTHONPATH")]))
    return env


def render(destination: Path, env: dict[str, str]) -> str:
    """Render the working tree with the default answers and install it; return the package."""
    import copier
    import yaml

    copier.run_copy(
        str(TEMPLATE_ROOT),
        str(destination),
        defaults=True,
        overwrite=True,
        vcs_ref="HEAD",
        quiet=True,
        unsafe=True,
    )
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    return answers["package_name"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample-rows", type=int, default=20_000)
    parser.add_argument("--project", type=Path, help="an installed render to use as it is")
    parser.add_argument("--sections", help="comma-separated subset (default: all)")
    parser.add_argument("--backfill-days", type=int, default=365, help="days of the year run")
    parser.add_argument("--json", type=Path, default=TEMPLATE_ROOT / "benchmarks/results.json")
    parser.add_argument("--markdown", type=Path, default=TEMPLATE_ROOT / "docs/performance.md")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        (Path(home) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = environment(Path(home))
        project = arguments.project
        if project is None:
            project = DEFAULT_PROJECT
            package = render(project, env)
        else:
            answers = (project / ".copier-answers.yml").read_text()
            package = next(
                line.split(":", 1)[1].strip()
                for line in answers.splitlines()
                if line.startswith("package_name:")
            )
        subprocess.run([*uv(), "sync", "--quiet"], cwd=project, env=env, check=True)

        with tempfile.NamedTemporaryFile(suffix=".json") as output:
            command = [*uv(), "run", "--quiet"]
            for peer in PEERS:
                command += ["--with", peer]
            command += [
                "python",
                "-m",
                "benchmarks.suite",
                f"--package={package}",
                f"--rows={arguments.rows}",
                f"--repeats={arguments.repeats}",
                f"--sample-rows={arguments.sample_rows}",
                f"--output={output.name}",
                f"--backfill-days={arguments.backfill_days}",
            ]
            if arguments.sections:
                command.append(f"--sections={arguments.sections}")
            subprocess.run(command, cwd=project, env=env, check=True)
            results = json.loads(Path(output.name).read_text())

    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    write_report(results, arguments.markdown)
    print(f"wrote {arguments.json} and {arguments.markdown}")


if __name__ == "__main__":
    main()
