"""The boto3 client of an S3 store, its bucket (checked once, created if allowed) and the one
wrapper every request goes through, which turns failures into :mod:`.errors`.

boto3 is imported inside the methods, so importing the code location stays fast.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..core.config import endpoint_with_scheme
from ..core.errors import UnsafeNameError
from .errors import (
    FORBIDDEN_CODES,
    NOT_FOUND_CODES,
    ErrorTranslator,
    S3AccessDeniedError,
    S3BucketNotFoundError,
    S3CredentialsError,
    S3Error,
    error_code,
)

T = TypeVar("T")

MIB = 1024 * 1024
# Host names of AWS's own S3 endpoints (any region, China and GovCloud included).
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")
# Where boto3 finds an endpoint when endpoint_url is not set (besides AWS's own).
CONFIGURED_ENDPOINT = "AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's endpoint_url"
# S3 bucket names: 3-63 characters, lowercase letters, digits, dots and hyphens.
BUCKET_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


class Missing:
    """Marker of a missing object or bucket (``S3Client.call(..., missing_ok=True)``).

    Example::

        if client.call("read", key, head, missing_ok=True) is MISSING:
            ...
    """


MISSING = Missing()


@dataclass(frozen=True)
class S3Settings:
    """The connection settings of an S3 store (the fields of ``S3IOManager``).

    Example::

        settings = S3Settings(endpoint_url="http://localhost:9000", access_key="<access-key>",
                              secret_key="<secret-key>", bucket="crypto-data")
        client = S3Client(settings)
    """

    bucket: str
    endpoint_url: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str | None = None
    use_ssl: bool = True
    create_bucket: bool = True
    multipart_threshold_mb: int = 64
    multipart_chunksize_mb: int = 16
    max_concurrency: int = 8
    max_attempts: int = 5
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 60.0

    @property
    def threshold_bytes(self) -> int:
        return self.multipart_threshold_mb * MIB

    def endpoint(self) -> str | None:
        return endpoint_with_scheme(self.endpoint_url, use_ssl=self.use_ssl)


class S3Client:
    """A lazily created, thread-safe boto3 client, the bucket check, and error translation.

    Retries of transient failures happen inside botocore and the transfer manager (bounded by
    ``max_attempts``); what reaches :meth:`call` failed for good.

    Example::

        client = S3Client(settings)
        head = client.call("read", "s3://crypto-data/raw/x.json",
                           lambda s3: s3.head_object(Bucket="crypto-data", Key="raw/x.json"),
                           missing_ok=True)  # MISSING if there is no such object
    """

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._errors: ErrorTranslator | None = None
        self._lock = threading.Lock()
        self._bucket_ready = False

    @property
    def errors(self) -> ErrorTranslator:
        """The translator of this client's failures (it names the endpoint boto3 resolved)."""
        if self._errors is None:
            s = self.settings
            self._errors = ErrorTranslator(
                bucket=s.bucket,
                endpoint_label=self.endpoint_label(),
                access_key=s.access_key,
                secret_key=s.secret_key,
                max_attempts=s.max_attempts,
                bucket_fix=self.bucket_fix(),
                diagnose_forbidden=self._diagnose_forbidden,
            )
        return self._errors

    # ---------------------------------------------------------------- where it connects

    def _resolved(self) -> tuple[str | None, str | None]:
        """The endpoint URL and region boto3 resolved (both ``None`` if it cannot build one)."""
        try:
            meta = self.boto().meta
        except Exception:  # a message about another failure must not fail itself
            return None, self.settings.region or None
        return str(meta.endpoint_url), meta.region_name

    def region(self) -> str:
        """The region requests are signed for: ``region``, else boto3's default chain
        (AWS_REGION / AWS_DEFAULT_REGION, the profile), else us-east-1."""
        return self._resolved()[1] or "us-east-1"

    def configured_endpoint(self) -> str | None:
        """The endpoint boto3 found in its configuration when ``endpoint_url`` is not set
        (e.g. AWS_ENDPOINT_URL_S3), or ``None`` for AWS's own endpoints."""
        if self.settings.endpoint():
            return None
        resolved = self._resolved()[0]
        if resolved is None:
            return None
        host = urlsplit(resolved).hostname or ""
        return None if host.endswith(AWS_HOST_SUFFIXES) else resolved

    def endpoint_label(self) -> str:
        endpoint = self.settings.endpoint()
        if endpoint:
            return f"endpoint {endpoint}"
        configured = self.configured_endpoint()
        if configured:
            return f"endpoint {configured} (from {CONFIGURED_ENDPOINT})"
        return f"AWS S3 (region {self.region()})"

    def bucket_fix(self) -> str:
        bucket = self.settings.bucket
        if self.settings.endpoint():
            return (
                f"Create it first: with docker compose the minio-create-bucket service does "
                f"(S3_BUCKET={bucket}), or `mc mb <alias>/{bucket}`."
            )
        # The AWS CLI reads the same variables (endpoint, region, credentials) as boto3.
        return f"Create it first: `aws s3 mb s3://{bucket} --region {self.region()}`."

    # ---------------------------------------------------------------- client

    def boto(self) -> Any:
        """The boto3 client, created on first use (boto3 clients are thread-safe)."""
        with self._lock:
            if self._client is None:
                self._client = self._create()
            return self._client

    def _create(self) -> Any:
        from boto3.session import Session
        from botocore.config import Config

        s = self.settings
        access_key, secret_key = s.access_key or None, s.secret_key or None
        if (access_key is None) != (secret_key is None):
            given, empty = (
                ("access_key", "secret_key") if access_key else ("secret_key", "access_key")
            )
            raise S3CredentialsError(
                f"S3IOManager for bucket {s.bucket!r}: {given} is set but {empty} is "
                "empty. Set both (e.g. EnvVar('S3_ACCESS_KEY') and EnvVar('S3_SECRET_KEY')), "
                "or neither to use boto3's default credential chain."
            )
        config = Config(
            region_name=s.region or None,
            signature_version="s3v4",
            # botocore's own "max_attempts" counts retries only; total_max_attempts counts
            # the first attempt too, which is what our max_attempts means.
            retries={"mode": "standard", "total_max_attempts": s.max_attempts},
            connect_timeout=s.connect_timeout_seconds,
            read_timeout=s.read_timeout_seconds,
            max_pool_connections=max(10, 2 * s.max_concurrency),
            # MinIO and most S3-compatible stores serve buckets as paths, not subdomains.
            s3={"addressing_style": "path"} if s.endpoint() else {},
        )
        # endpoint_url None: AWS, or the endpoint of boto3's configuration (AWS_ENDPOINT_URL_S3
        # ...), whose scheme wins over use_ssl as an explicit endpoint_url's does.
        return Session().client(
            "s3",
            endpoint_url=s.endpoint(),
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            use_ssl=s.use_ssl,
            config=config,
        )

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        s = self.settings
        return TransferConfig(
            multipart_threshold=s.threshold_bytes,
            multipart_chunksize=s.multipart_chunksize_mb * MIB,
            max_concurrency=s.max_concurrency,
            num_download_attempts=s.max_attempts,
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.settings.bucket}/{key}"

    # ---------------------------------------------------------------- requests

    def call(
        self,
        action: str,
        key: str,
        operation: Callable[[Any], T],
        *,
        missing_ok: bool = False,
    ) -> T | Missing:
        """Run one S3 operation; translate failures into errors that say what to fix.

        With ``missing_ok``, a missing object or bucket returns :data:`MISSING` instead.
        """
        from botocore.exceptions import BotoCoreError, ClientError
        from s3transfer.exceptions import RetriesExceededError

        try:
            return operation(self.boto())
        except ClientError as error:
            if missing_ok and error_code(error) in NOT_FOUND_CODES:
                return MISSING
            raise self.errors.translate(error, action, self.uri(key)) from error
        except (BotoCoreError, RetriesExceededError) as error:
            raise self.errors.translate(error, action, self.uri(key)) from error

    def call_required(self, action: str, key: str, operation: Callable[[Any], T]) -> T:
        """:meth:`call` of an operation whose target must exist."""
        result = self.call(action, key, operation)
        assert not isinstance(result, Missing)  # missing_ok=False raises instead
        return result

    def _diagnose_forbidden(self) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.boto().list_objects_v2(Bucket=self.settings.bucket, MaxKeys=1)
        except ClientError as error:
            return error_code(error)
        except BotoCoreError:
            return None
        return None

    # ---------------------------------------------------------------- bucket

    def bucket_exists(self, key: str) -> bool:
        found = self.call(
            "check the bucket of",
            key,
            lambda s3: s3.head_bucket(Bucket=self.settings.bucket),
            missing_ok=True,
        )
        return found is not MISSING

    def ensure_bucket(self, key: str, *, log: Callable[[str], object] | None = None) -> None:
        """Check once per client that the bucket exists before writing; create it if allowed."""
        if self._bucket_ready:
            return
        s = self.settings
        self._check_bucket_name()
        if not self.bucket_exists(key):
            if not s.create_bucket:
                raise S3BucketNotFoundError(
                    f"Bucket {s.bucket!r} does not exist at {self.endpoint_label()} (needed "
                    f"for {self.uri(key)}), and create_bucket is False. {self.bucket_fix()} "
                    "Or set create_bucket=True if the credentials may create buckets."
                )
            self._create_bucket(key)
            if log is not None:
                log(f"Created bucket {s.bucket!r} at {self.endpoint_label()}")
        self._bucket_ready = True

    def _create_bucket(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        s = self.settings
        arguments: dict[str, Any] = {"Bucket": s.bucket}
        region = self.region()
        if region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.boto().create_bucket(**arguments)
        except ClientError as error:
            code = error_code(error)
            if code == "BucketAlreadyOwnedByYou":  # created concurrently by another run
                return
            if code in FORBIDDEN_CODES:
                raise S3AccessDeniedError(
                    f"Bucket {s.bucket!r} does not exist at {self.endpoint_label()} (needed "
                    f"for {self.uri(key)}), and the identity of "
                    f"{self.errors.access_key_label()} may not create it ({code}). "
                    f"{self.bucket_fix()} Or grant that identity s3:CreateBucket, or set "
                    "create_bucket=False to fail fast."
                ) from error
            if code == "BucketAlreadyExists":
                raise S3Error(
                    f"Bucket name {s.bucket!r} is taken by another account "
                    f"({self.endpoint_label()}). Choose another bucket name."
                ) from error
            raise self.errors.translate(error, "create the bucket for", self.uri(key)) from error
        except BotoCoreError as error:
            raise self.errors.translate(error, "create the bucket for", self.uri(key)) from error

    def _check_bucket_name(self) -> None:
        name = self.settings.bucket
        if not (
            3 <= len(name) <= 63
            and set(name) <= BUCKET_NAME_CHARS
            and name[0].isalnum()
            and name[-1].isalnum()
        ):
            raise UnsafeNameError(
                f"Bucket name {name!r} is not a valid S3 bucket name: 3 to 63 characters, "
                "lowercase letters, digits, dots and hyphens, starting and ending with a letter "
                "or digit."
            )
