"""Resource builders shared by several environments.

Environment modules build their resources from here and never import one another, so each
stays loadable (and editable) on its own.
"""

import os

import dagster as dg

from ..io_managers import SQLIOManager
from ..resources import ExchangeResource

# What staging and prod extract when EXCHANGE_MODE is unset: the exchanges themselves.
DEPLOYED_EXCHANGE_MODE = "live"


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


def deployed_exchange() -> ExchangeResource:
    """The exchanges of staging and prod: live, unless EXCHANGE_MODE says otherwise.

    A set EXCHANGE_MODE is read when a run starts (an EnvVar); unset or empty, the runs pull
    live data. Tests and the demo set EXCHANGE_MODE=replay to stay offline.
    """
    if os.environ.get("EXCHANGE_MODE", "").strip():
        return ExchangeResource(mode=dg.EnvVar("EXCHANGE_MODE"))
    return ExchangeResource(mode=DEPLOYED_EXCHANGE_MODE)
