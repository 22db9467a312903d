"""This machine's private set-up of the project: `.env` with fresh secrets, and the dev instance.

    uv run python -m <package>.local_env     # once per checkout; safe to run again

- `.env` is made from `.env.example` with freshly generated local passwords, readable by its
  owner only (mode 0600) and git-ignored. An existing `.env` is never overwritten: variables it
  lacks are appended, its values are kept.
- `DAGSTER_HOME` in `.env` names this project's `.dagster_home/`, whose `dagster.yaml` is
  `deploy/dev/dagster.yaml` (a symbolic link; a copy where links are not allowed). `dg dev`,
  `dagster dev`, `dg launch` and the demo all load `.env` from the project directory, so they
  share that instance: runs launched by one show in the others, queued, with telemetry off.

`copier copy --trust` runs this file as its copy task and the demo runs it too, so it is needed
by hand only after `copier copy --skip-tasks` when the demo was not run. Standard library only:
Copier runs it with its own Python, before the project's environment exists.
"""

import os
import re
import secrets
from pathlib import Path

# Passwords that .env.example publishes for local services (docker-compose's PostgreSQL and
# MinIO); each project gets its own random values instead.
GENERATED_SECRETS = ("POSTGRES_PASSWORD", "S3_SECRET_KEY")

ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def read_assignments(text: str) -> dict[str, str]:
    """The KEY=VALUE pairs of a dotenv text; comments and blank lines are skipped."""
    return {
        match.group(1): match.group(2).strip()
        for match in map(ASSIGNMENT.match, text.splitlines())
        if match
    }


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def choose_secrets(example: dict[str, str], existing: dict[str, str]) -> dict[str, str]:
    """A value for each generated secret of the example: the project's own if it has one."""
    return {
        name: existing.get(name) or new_secret() for name in GENERATED_SECRETS if name in example
    }


def replace_published_secrets(
    lines: list[str], example: dict[str, str], chosen: dict[str, str]
) -> list[str]:
    """`lines` of .env.example with each published password replaced by the chosen one.

    A published password can also sit inside another value (a connection URL, say), so it is
    replaced wherever it appears, not only on its own line.
    """
    result = []
    for line in lines:
        match = ASSIGNMENT.match(line)
        if match and match.group(1) in chosen:
            line = f"{match.group(1)}={chosen[match.group(1)]}"
        else:
            for name, value in chosen.items():
                if published := example.get(name):
                    line = line.replace(published, value)
        result.append(line)
    return result


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by its owner only: the file holds passwords."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def create_env_file(project: Path) -> bool:
    """Write .env from .env.example with new passwords, unless the project already has a .env."""
    env_file, example_file = project / ".env", project / ".env.example"
    if env_file.exists() or not example_file.exists():
        return False
    example_text = example_file.read_text(encoding="utf-8")
    example = read_assignments(example_text)
    lines = replace_published_secrets(
        example_text.splitlines(), example, choose_secrets(example, {})
    )
    write_private(env_file, "\n".join(lines) + "\n")
    return True


def add_missing_variables(project: Path, reason: str) -> list[str]:
    """Append to .env the variables of .env.example it lacks; existing values are kept.

    Each added variable comes with the comment lines above it in .env.example, under a header
    that says what added it (`reason`, e.g. "copier update (template 0.1.0)"). Returns the
    names added (none when .env or .env.example is missing).
    """
    env_file, example_file = project / ".env", project / ".env.example"
    if not env_file.exists() or not example_file.exists():
        return []
    env_text = env_file.read_text(encoding="utf-8")
    existing = read_assignments(env_text)
    example_text = example_file.read_text(encoding="utf-8")
    example = read_assignments(example_text)
    chosen = choose_secrets(example, existing)

    added: list[str] = []
    block: list[str] = []
    comments: list[str] = []
    for line in example_text.splitlines():
        match = ASSIGNMENT.match(line)
        if not match:
            # Comments directly above an assignment describe it; a blank line ends the group.
            comments = [*comments, line] if line.strip().startswith("#") else []
            continue
        if match.group(1) not in existing:
            block += ["", *comments] if comments else []
            block += replace_published_secrets([line], example, chosen)
            added.append(match.group(1))
        comments = []
    if added:
        separator = "\n" if env_text and not env_text.endswith("\n") else ""
        header = f"# Added by {reason}: variables .env.example gained."
        body = "\n".join(block).lstrip("\n")
        write_private(env_file, f"{env_text}{separator}\n{header}\n{body}\n")
    return added


def published_secrets_in_use(project: Path) -> list[str]:
    """Generated-secret variables whose .env value is still the one .env.example publishes."""
    env_file, example_file = project / ".env", project / ".env.example"
    if not env_file.exists() or not example_file.exists():
        return []
    existing = read_assignments(env_file.read_text(encoding="utf-8"))
    example = read_assignments(example_file.read_text(encoding="utf-8"))
    return [
        name
        for name in GENERATED_SECRETS
        if example.get(name) and existing.get(name) == example.get(name)
    ]


INSTANCE_DIR = ".dagster_home"
INSTANCE_CONFIG = Path("deploy") / "dev" / "dagster.yaml"
DAGSTER_HOME_COMMENT = "# Dagster's instance for dg dev, dagster dev and the demo (local_env)."


def _replace_assignment(text: str, name: str, value: str) -> str:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match and match.group(1) == name:
            lines[index] = f"{name}={value}"
    return "\n".join(lines) + "\n"


def set_dagster_home(project: Path) -> str | None:
    """Point DAGSTER_HOME in .env at the project's instance; say what changed (None: nothing).

    A DAGSTER_HOME the user chose elsewhere is kept. One that names the `.dagster_home` of
    another directory was written for this project before it moved or was copied: it is
    repointed, so the project never writes into another checkout's instance.
    """
    env_file = project / ".env"
    if not env_file.exists():
        return None
    home = str((project / INSTANCE_DIR).resolve())
    text = env_file.read_text(encoding="utf-8")
    current = read_assignments(text).get("DAGSTER_HOME")
    if current == home:
        return None
    if current is None:
        separator = "\n" if text and not text.endswith("\n") else ""
        write_private(env_file, f"{text}{separator}\n{DAGSTER_HOME_COMMENT}\nDAGSTER_HOME={home}\n")
        return f"Set DAGSTER_HOME={home} in .env."
    if Path(current.strip("'\"")).name == INSTANCE_DIR:
        write_private(env_file, _replace_assignment(text, "DAGSTER_HOME", home))
        return f"Moved DAGSTER_HOME in .env from {current} to this project's {home}."
    return None


def prepare_instance(project: Path) -> list[str]:
    """Create `.dagster_home/` with deploy/dev/dagster.yaml as its instance config."""
    home, source = project / INSTANCE_DIR, project / INSTANCE_CONFIG
    if not source.exists():
        return []
    home.mkdir(exist_ok=True)
    config = home / "dagster.yaml"
    if config.is_symlink() and config.resolve() == source.resolve():
        return []
    if config.exists() and not config.is_symlink() and config.read_bytes() != source.read_bytes():
        return [f"Kept {config} (it differs from {INSTANCE_CONFIG}; it is the instance's config)."]
    config.unlink(missing_ok=True)
    try:
        config.symlink_to(Path("..") / INSTANCE_CONFIG)
    except OSError:  # no symbolic links here (Windows without developer mode): a copy
        config.write_bytes(source.read_bytes())
        return [f"Copied {INSTANCE_CONFIG} to {config} (copy it again when it changes)."]
    return [f"Linked {config} to {INSTANCE_CONFIG}."]


def prepare(project: Path) -> list[str]:
    """Everything this module sets up, idempotently; returns what to tell the user."""
    if not (project / ".env.example").exists():
        raise SystemExit(
            f"{project} has no .env.example: run this from the project directory "
            "(the one with pyproject.toml and .env.example)."
        )
    notes = []
    if create_env_file(project):
        generated = " and ".join(GENERATED_SECRETS)
        notes.append(f"Created .env (mode 0600, git-ignored) with new random {generated}.")
    elif added := add_missing_variables(project, reason="local_env"):
        notes.append(f"Added to .env from .env.example: {', '.join(added)}.")
    notes += prepare_instance(project)
    if note := set_dagster_home(project):
        notes.append(note)
    return notes


def dagster_home(project: Path) -> Path:
    """The instance directory `.env` names (what dg dev and dagster dev will use)."""
    env_file = project / ".env"
    value = read_assignments(env_file.read_text(encoding="utf-8")).get("DAGSTER_HOME")
    return Path(value.strip("'\"")) if value else (project / INSTANCE_DIR).resolve()


def main() -> int:
    project = Path.cwd()
    for note in prepare(project) or ["Nothing to do: .env and the dev instance are in place."]:
        print(note)
    print(f"Dagster instance: {dagster_home(project)} (`uv run dg dev` serves it).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
