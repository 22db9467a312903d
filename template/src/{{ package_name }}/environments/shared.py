"""Resource builders shared by several environments.

Environment modules build their resources from here and never import one another, so each
stays loadable (and editable) on its own.
"""

import os
from urllib.parse import quote

import dagster as dg

from ..io_managers import IcebergIOManager, SQLIOManager
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


#: TRANSFORM_STORE: the store of the transform layer in staging and prod (the first is default).
DEPLOYED_TRANSFORM_STORES = ("postgres", "iceberg")
#: Where Iceberg's data and metadata files go when ICEBERG_WAREHOUSE is unset: the bucket.
ICEBERG_PREFIX = "iceberg"


def chosen_transform_store(choices: tuple[str, ...], given: str | None = None) -> str:
    """``given``, else TRANSFORM_STORE: one of ``choices`` (unset or empty: the first), read
    when the Definitions load, so a wrong name fails `dg check defs`."""
    store = (given or os.environ.get("TRANSFORM_STORE", "")).strip().lower() or choices[0]
    if store not in choices:
        raise ValueError(
            f"TRANSFORM_STORE={store!r} is not a store of this environment; choose one of "
            f"{', '.join(choices)} (unset: {choices[0]})."
        )
    return store


def postgres_catalog_uri() -> str:
    """The SQLAlchemy URL of the warehouse's PostgreSQL (POSTGRES_*, no password), for an
    Iceberg catalog; POSTGRES_HOST may be a Unix socket directory."""
    host = os.environ.get("POSTGRES_HOST", "localhost")
    port = os.environ.get("POSTGRES_PORT", "5432")
    user = quote(os.environ.get("POSTGRES_USER", ""), safe="")
    database = quote(os.environ.get("POSTGRES_DB", ""), safe="")
    credentials = f"{user}@" if user else ""
    if host.startswith("/"):
        return (
            f"postgresql+psycopg://{credentials}/{database}"
            f"?host={quote(host, safe='')}&port={quote(port, safe='')}"
        )
    return f"postgresql+psycopg://{credentials}{host}:{port}/{database}"


def iceberg_lake(*, s3_endpoint: bool) -> IcebergIOManager:
    """The transform layer as Iceberg tables (TRANSFORM_STORE=iceberg): the catalog in the
    warehouse's PostgreSQL, the files in ICEBERG_WAREHOUSE (default s3://$S3_BUCKET/iceberg).

    ``s3_endpoint``: staging's MinIO endpoint and keys (S3_*); prod uses AWS and its default
    credential chain.
    """
    warehouse = os.environ.get("ICEBERG_WAREHOUSE", "").strip()
    if not warehouse:
        warehouse = f"s3://{os.environ.get('S3_BUCKET', '')}/{ICEBERG_PREFIX}"
    catalog_uri, password = postgres_catalog_uri(), dg.EnvVar("POSTGRES_PASSWORD")
    if s3_endpoint:
        return IcebergIOManager(
            catalog_uri=catalog_uri,
            catalog_password=password,
            warehouse=warehouse,
            endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
            access_key=dg.EnvVar("S3_ACCESS_KEY"),
            secret_key=dg.EnvVar("S3_SECRET_KEY"),
            region=dg.EnvVar("S3_REGION"),
            schema=warehouse_schema(),
        )
    return IcebergIOManager(
        catalog_uri=catalog_uri,
        catalog_password=password,
        warehouse=warehouse,
        region=dg.EnvVar("S3_REGION"),
        schema=warehouse_schema(),
    )


def deployed_transform_store(*, s3_endpoint: bool) -> SQLIOManager | IcebergIOManager:
    """The transform layer of staging and prod: PostgreSQL tables (default), or Iceberg."""
    if chosen_transform_store(DEPLOYED_TRANSFORM_STORES) == "iceberg":
        return iceberg_lake(s3_endpoint=s3_endpoint)
    return postgres_warehouse()


def deployed_exchange() -> ExchangeResource:
    """The exchanges of staging and prod: live, unless EXCHANGE_MODE says otherwise.

    A set EXCHANGE_MODE is read when a run starts (an EnvVar); unset or empty, the runs pull
    live data. Tests and the demo set EXCHANGE_MODE=replay to stay offline.
    """
    if os.environ.get("EXCHANGE_MODE", "").strip():
        return ExchangeResource(mode=dg.EnvVar("EXCHANGE_MODE"))
    return ExchangeResource(mode=DEPLOYED_EXCHANGE_MODE)
