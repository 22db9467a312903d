"""The project's local `.env` and dev instance, as the generated project's own `local_env` makes them.

One implementation: the generated package ships it (template/src/{{ package_name }}/local_env.py,
standard library only, so users who skipped Copier's tasks run it as
`uv run python -m <package>.local_env`). The copy task (hooks/post_copy.py) and the migrations
(hooks/migrations/) load that same file from the template checkout they run from.
"""

import importlib.util
from pathlib import Path

SOURCE = (
    Path(__file__).resolve().parents[1] / "template" / "src" / "{{ package_name }}" / "local_env.py"
)

_spec = importlib.util.spec_from_file_location("local_env", SOURCE)
assert _spec is not None and _spec.loader is not None, f"cannot load {SOURCE}"
local_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(local_env)

ASSIGNMENT = local_env.ASSIGNMENT
GENERATED_SECRETS = local_env.GENERATED_SECRETS
read_assignments = local_env.read_assignments
create_env_file = local_env.create_env_file
add_missing_variables = local_env.add_missing_variables
published_secrets_in_use = local_env.published_secrets_in_use
set_dagster_home = local_env.set_dagster_home
prepare_instance = local_env.prepare_instance
prepare = local_env.prepare
