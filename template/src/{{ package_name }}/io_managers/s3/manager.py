"""S3IOManager: dicts as JSON objects, polars DataFrames as Parquet objects, in an S3 bucket.

Layout (see docs/io-manager-s3.md), the filesystem layout under ``s3://<bucket>/<prefix>/``::

    <prefix>/<key parts...>.json | .parquet                      unpartitioned
    <prefix>/<key parts...>/date=YYYY-MM-DD/data.json | .parquet  partitioned (hive style)

``endpoint_url`` None means AWS S3 (or the endpoint boto3's own configuration names, e.g.
``AWS_ENDPOINT_URL_S3``); a URL means MinIO or another S3-compatible store (path-style
addressing).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import Field, PrivateAttr

from ..core.config import KnownSettings
from ..core.storage import StorageAPI, StoredData
from ..files.manager import FileStore
from ..files.storage import file_delete, file_describe, file_exists
from .backend import S3Backend
from .client import S3Client, S3Settings


class S3IOManager(StorageAPI, ConfigurableIOManager, KnownSettings):
    """Stores dicts as JSON and polars DataFrames as Parquet objects in ``bucket``.

    One object per asset, or per partition (``<key>/date=YYYY-MM-DD/data.parquet``). A run of
    several partitions writes one object per partition (``max_concurrency`` at once): a frame
    split by its ``partition_expr`` column, a dict given as ``{partition_key: payload}``.
    Loading several partitions returns one concatenated frame, or ``{partition_key: payload}``
    for dicts.
    Metadata: ``table`` renames the last key part; ``write_mode`` append/upsert (with
    ``primary_key``) for frames; ``columns`` on inputs selects frame columns. Pass credentials
    as ``dagster.EnvVar``; they are never logged or reported.

    Example::

        S3IOManager(
            endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),  # None or empty: AWS S3
            access_key=dg.EnvVar("S3_ACCESS_KEY"),
            secret_key=dg.EnvVar("S3_SECRET_KEY"),
            bucket="crypto-data",
            region="us-east-1",
            use_ssl=False,
        )
    """

    endpoint_url: str | None = Field(
        default=None,
        description="S3 API URL of MinIO or another S3-compatible store, e.g. "
        "http://localhost:9000. Empty or None: boto3's configured endpoint "
        "(AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url), else AWS S3.",
    )
    access_key: str | None = Field(
        default=None,
        repr=False,
        description="Access key id (use EnvVar). Empty with secret_key empty: boto3's default "
        "credential chain (environment, profile, instance role).",
    )
    secret_key: str | None = Field(
        default=None, repr=False, description="Secret access key (use EnvVar)."
    )
    bucket: str = Field(description="Bucket holding the objects.")
    region: str | None = Field(
        default=None,
        description="Region of the bucket (request signing, bucket creation). None or empty: "
        "boto3's default (AWS_REGION / AWS_DEFAULT_REGION, the profile), else us-east-1.",
    )
    use_ssl: bool = Field(
        default=True,
        description="HTTPS for AWS and for an endpoint_url without scheme; a scheme in "
        "endpoint_url or in boto3's configured endpoint (AWS_ENDPOINT_URL_S3) wins.",
    )
    prefix: str = Field(
        default="", description="Key prefix inside the bucket, e.g. 'crypto' or 'team/crypto'."
    )
    create_bucket: bool = Field(
        default=True,
        description="Create the bucket on first use when it is missing. False: a missing "
        "bucket is an error (for identities without s3:CreateBucket).",
    )
    multipart_threshold_mb: int = Field(
        default=64,
        ge=5,
        description="Objects of this size (MiB) or larger are uploaded and downloaded in parts, "
        "in parallel; smaller ones in one request. Payloads are spooled to a temp file above it.",
    )
    multipart_chunksize_mb: int = Field(
        default=16, ge=5, description="Part size (MiB) of multipart transfers (S3 minimum: 5)."
    )
    max_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Parallel parts per transfer / partitions per load or range write.",
    )
    max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Attempts per request, first included (botocore 'standard' retries: "
        "throttling, 5xx and connection errors, exponential backoff with jitter).",
    )
    json_indent: int | None = Field(
        default=None,
        ge=0,
        le=8,
        description="Indentation of the JSON objects of dict payloads: None (default) writes one "
        "line; 2 writes one item per line, scalar-only lists (a candle) on one line, for "
        "reading while debugging. Loads return the same dict either way.",
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=60.0, gt=0)

    _connection: S3Client | None = PrivateAttr(default=None)

    def _client(self) -> S3Client:
        """The S3 client of this manager, created on first use and kept."""
        if self._connection is None:
            # Every setting is a field of this manager under the same name.
            settings = {f.name: getattr(self, f.name) for f in fields(S3Settings)}
            self._connection = S3Client(S3Settings(**settings))
        return self._connection

    def _s3(self) -> Any:
        """The boto3 client (e.g. to register botocore event handlers in tests)."""
        return self._client().boto()

    def _store(self, context: InputContext | OutputContext) -> FileStore:
        client = self._client()
        backend = S3Backend(client, self.prefix, log=context.log.warning)

        def missing_detail(path: str) -> str:
            where = client.endpoint_label()
            if client.bucket_exists(backend.key(path)):
                return f" at {where}"
            return f" at {where}: bucket {self.bucket!r} itself does not exist"

        return FileStore(
            backend,
            manager="S3IOManager",
            unit="object",
            missing_check=f"Or check bucket ({self.bucket!r}), prefix ({self.prefix!r}) and "
            "endpoint_url.",
            missing_detail=missing_detail,
            concurrency=self.max_concurrency,
            version_key="s3/version_id",
            json_indent=self.json_indent,
        )

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self._store(context).handle_output(context, obj)

    def load_input(self, context: InputContext) -> Any:
        return self._store(context).load_input(context)

    def _exists(self, context: OutputContext) -> bool:
        return file_exists(self._store(context), context)

    def _delete(self, context: OutputContext) -> None:
        file_delete(self._store(context), context)

    def _describe(self, context: OutputContext) -> StoredData:
        return file_describe(self._store(context), context)
