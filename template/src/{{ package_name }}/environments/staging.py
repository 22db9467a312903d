"""staging: raw layer in S3 on MinIO, warehouse in PostgreSQL, graph in Kuzu.

Every setting comes from the environment (see .env.example); secrets only through EnvVar, so
they are resolved when a run starts and never written into the code location's config.
"""

import dagster as dg

from ..io_managers import KuzuDBIOManager, S3IOManager
from ..resources.graph import GraphQueryResource
from . import build_definitions
from .shared import deployed_exchange, deployed_transform_store


def staging_resources() -> dict[str, object]:
    objects = S3IOManager(
        endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
        access_key=dg.EnvVar("S3_ACCESS_KEY"),
        secret_key=dg.EnvVar("S3_SECRET_KEY"),
        bucket=dg.EnvVar("S3_BUCKET"),
        region=dg.EnvVar("S3_REGION"),
    )
    return {
        "exchange": deployed_exchange(),
        # Assets that name no IO manager key go to the bucket too (never pickled on a pod).
        "io_manager": objects,
        "extract_io_manager": objects,
        # PostgreSQL tables, or Iceberg on S3 with TRANSFORM_STORE=iceberg (.env.example).
        "transform_io_manager": deployed_transform_store(s3_endpoint=True),
        "graph_io_manager": KuzuDBIOManager(db_path=dg.EnvVar("GRAPH_DB_PATH")),
        "graph": GraphQueryResource(db_path=dg.EnvVar("GRAPH_DB_PATH")),
    }


def definitions() -> dg.Definitions:
    """The project's Definitions bound to the staging resources (built when Dagster loads them)."""
    return build_definitions(staging_resources())
