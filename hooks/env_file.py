"""The project's local `.env`: made from `.env.example` with fresh passwords, never overwritten.

Shared by the copy task (hooks/post_copy.py) and the migrations (hooks/migrations/). Standard
library only: Copier runs hooks with its own Python.
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
    that says `reason`. Returns the names added (none when .env or .env.example is missing).
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
        header = f"# Added by copier update ({reason}): variables .env.example gained."
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
