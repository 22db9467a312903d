"""The local .env catches up with .env.example (listed for 0.1.0 and 0.2.0 in copier.yml).

.env is git-ignored and no template file, so `copier update` never touches it: variables that
.env.example gains do not reach it. Projects copied before 0.1.0 (the untagged development
versions) got .env as a verbatim copy of an .env.example that had no S3/MinIO or PostgreSQL
variables yet; with such a .env, docker compose starts PostgreSQL without a password and the
staging settings are missing. After the update, .env gets every variable it lacks, with fresh
random local passwords; values already in it are kept. A project without .env gets one, as
`copier copy` makes it. List this module again under any later version that adds variables.

0.2.0: .env names the project's dev instance (DAGSTER_HOME, `.dagster_home/` linked to
deploy/dev/dagster.yaml), so `dg dev` shows the demo's runs; and the switches .env.example used
to set to their built-in defaults (DAGSTER_ENV=dev, DATA_DIR=data) are commented out, because a
value in .env beats the shell's (`DAGSTER_ENV=staging uv run dg dev` would load dev). So is
EXCHANGE_MODE=replay, which .env.example used to publish for every environment: unset, dev still
replays and staging and prod extract live data. Only lines still holding exactly those values
change; the migration says so, and how to keep replaying.
"""

from env_file import (
    ASSIGNMENT,
    add_missing_variables,
    create_env_file,
    prepare_instance,
    published_secrets_in_use,
    set_dagster_home,
)

# Values .env.example set before 0.2.0: the defaults the code falls back to, and EXCHANGE_MODE's
# old published value (unset now: dev replays, staging and prod go live).
UNPINNED_DEFAULTS = {"DAGSTER_ENV": "dev", "DATA_DIR": "data", "EXCHANGE_MODE": "replay"}


def unpin_default_switches(project) -> list[str]:
    """Comment out the switches that still hold their built-in default; return their names."""
    env_file = project / ".env"
    if not env_file.exists():
        return []
    lines, unpinned = env_file.read_text(encoding="utf-8").splitlines(), []
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match and UNPINNED_DEFAULTS.get(match.group(1)) == match.group(2).strip():
            lines[index] = f"# {line.strip()}"
            unpinned.append(match.group(1))
    if unpinned:
        mode = env_file.stat().st_mode & 0o777
        env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env_file.chmod(mode)
    return unpinned


def after(context) -> None:
    if create_env_file(context.project):
        print("Created .env from .env.example with new random local passwords (git-ignored).")
    else:
        reason = f"copier update (template {context.version})"
        if added := add_missing_variables(context.project, reason=reason):
            print(f"Added to .env from .env.example: {', '.join(added)}.")
        unpinned = unpin_default_switches(context.project)
        if switches := [name for name in unpinned if name != "EXCHANGE_MODE"]:
            print(
                f"Commented out {', '.join(switches)} in .env (their defaults): the shell's "
                "values now reach dg dev, e.g. DAGSTER_ENV=staging uv run dg dev."
            )
        if "EXCHANGE_MODE" in unpinned:
            print(
                "Commented out EXCHANGE_MODE=replay in .env: dev still replays by default, "
                "staging and prod now extract live data. To replay everywhere, set "
                "EXCHANGE_MODE=replay in .env again."
            )
    for note in prepare_instance(context.project):
        print(note)
    if note := set_dagster_home(context.project):
        print(note)
    stale = published_secrets_in_use(context.project)
    if stale:
        # Changing them here could lock the user out of a PostgreSQL volume made with them.
        print(
            f"Note: {', '.join(stale)} in .env still have the values .env.example publishes; "
            "choose your own before the local services first start with them."
        )
