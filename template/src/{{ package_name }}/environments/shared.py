"""Resource builders shared by several environments.

Environment modules build their resources from here and never import one another, so each
stays loadable (and editable) on its own.
"""

import os

import dagster as dg

from ..io_managers import SQLIOManager
from ..io_managers.core.naming import IDENTIFIER_PATTERN, IDENTIFIER_RULE
from ..resources import ExchangeResource

# What staging and prod extract when EXCHANGE_MODE is unset: the exchanges themselves.
DEPLOYED_EXCHANGE_MODE = "live"


def warehouse_schema() -> str | None:
    """POSTGRES_SCHEMA: the schema every warehouse table lands in, e.g. ``public``.

    Unset or empty: each table lands in the schema named by its asset key prefix (``market``
    for ``market/ohlcv``). Asset metadata ``schema`` still wins over both. Read when the
    Definitions load, so a bad name fails `dg check defs` instead of the first run.
    """
    schema = os.environ.get("POSTGRES_SCHEMA", "").strip()
    if not schema:
        return None
    if not IDENTIFIER_PATTERN.fullmatch(schema):
        raise ValueError(
            f"POSTGRES_SCHEMA={schema!r} is not a valid schema name ({IDENTIFIER_RULE}). "
            "Set it to a schema name such as public, or unset it to put each table in the "
            "schema of its asset key prefix."
        )
    return schema


def postgres_warehouse() -> SQLIOManager:
    """The transform layer's PostgreSQL (staging and prod), configured from POSTGRES_*."""
    return SQLIOManager(
        db_type="postgresql",
        host=dg.EnvVar("POSTGRES_HOST"),
        port=dg.EnvVar.int("POSTGRES_PORT"),
        db_name=dg.EnvVar("POSTGRES_DB"),
        username=dg.EnvVar("POSTGRES_USER"),
        password=dg.EnvVar("POSTGRES_PASSWORD"),
        schema=warehouse_schema(),
    )


def deployed_exchange() -> ExchangeResource:
    """The exchanges of staging and prod: live, unless EXCHANGE_MODE says otherwise.

    A set EXCHANGE_MODE is read when a run starts (an EnvVar); unset or empty, the runs pull
    live data. Tests and the demo set EXCHANGE_MODE=replay to stay offline.
    """
    if os.environ.get("EXCHANGE_MODE", "").strip():
        return ExchangeResource(mode=dg.EnvVar("EXCHANGE_MODE"))
    return ExchangeResource(mode=DEPLOYED_EXCHANGE_MODE)
