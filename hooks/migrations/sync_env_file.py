"""The local .env catches up with .env.example (first listed for 0.1.0 in copier.yml).

.env is git-ignored and no template file, so `copier update` never touches it: variables that
.env.example gains do not reach it. Projects copied before 0.1.0 (the untagged development
versions) got .env as a verbatim copy of an .env.example that had no S3/MinIO or PostgreSQL
variables yet; with such a .env, docker compose starts PostgreSQL without a password and the
staging settings are missing. After the update, .env gets every variable it lacks, with fresh
random local passwords; values already in it are kept. A project without .env gets one, as
`copier copy` makes it. List this module again under any later version that adds variables.
"""

from env_file import add_missing_variables, create_env_file, published_secrets_in_use


def after(context) -> None:
    if create_env_file(context.project):
        print("Created .env from .env.example with new random local passwords (git-ignored).")
        return
    added = add_missing_variables(context.project, reason=f"template {context.version}")
    if added:
        print(f"Added to .env from .env.example: {', '.join(added)}.")
    stale = published_secrets_in_use(context.project)
    if stale:
        # Changing them here could lock the user out of a PostgreSQL volume made with them.
        print(
            f"Note: {', '.join(stale)} in .env still have the values .env.example publishes; "
            "choose your own before the local services first start with them."
        )
