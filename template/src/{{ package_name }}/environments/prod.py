"""prod: raw layer in AWS S3, warehouse in PostgreSQL, graph in Kuzu.

S3 has no endpoint URL (AWS itself) and no keys here: boto3's default credential chain applies
(an IAM role of the pod or instance, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
"""

import dagster as dg

from ..io_managers import KuzuDBIOManager, S3IOManager
from ..resources.graph import GraphQueryResource
from . import build_definitions
from .shared import deployed_exchange, deployed_transform_store


def prod_resources() -> dict[str, object]:
    objects = S3IOManager(
        endpoint_url=None,
        bucket=dg.EnvVar("S3_BUCKET"),
        region=dg.EnvVar("S3_REGION"),
    )
    return {
        "exchange": deployed_exchange(),
        # Assets that name no IO manager key go to the bucket too (never pickled on a pod).
        "io_manager": objects,
        "extract_io_manager": objects,
        # PostgreSQL tables, or Iceberg on S3 with TRANSFORM_STORE=iceberg (.env.example).
        "transform_io_manager": deployed_transform_store(s3_endpoint=False),
        "graph_io_manager": KuzuDBIOManager(db_path=dg.EnvVar("GRAPH_DB_PATH")),
        "graph": GraphQueryResource(db_path=dg.EnvVar("GRAPH_DB_PATH")),
    }


def definitions() -> dg.Definitions:
    """The project's Definitions bound to the prod resources (built when Dagster loads them)."""
    return build_definitions(prod_resources())
