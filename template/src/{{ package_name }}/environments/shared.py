"""Resource builders shared by several environments.

Environment modules build their resources from here and never import one another, so each
stays loadable (and editable) on its own.
"""

import dagster as dg

from ..io_managers import SQLIOManager


def postgres_warehouse() -> SQLIOManager:
    """The transform layer's PostgreSQL (staging and prod), configured from POSTGRES_*."""
    return SQLIOManager(
        db_type="postgresql",
        host=dg.EnvVar("POSTGRES_HOST"),
        port=dg.EnvVar.int("POSTGRES_PORT"),
        db_name=dg.EnvVar("POSTGRES_DB"),
        username=dg.EnvVar("POSTGRES_USER"),
        password=dg.EnvVar("POSTGRES_PASSWORD"),
    )
