"""S3IOManager: dicts as JSON objects, polars DataFrames as Parquet objects, in an S3 bucket.

Layout (see docs/io-manager-s3.md), the filesystem layout under ``s3://<bucket>/<prefix>/``::

    <prefix>/<key parts...>.json | .parquet                      unpartitioned
    <prefix>/<key parts...>/date=YYYY-MM-DD/data.json | .parquet  partitioned (hive style)

``endpoint_url`` None means AWS S3; a URL means MinIO or another S3-compatible store
(path-style addressing). Each object is written by one PUT, or by one multipart upload, which
S3 publishes only when it completes: readers see the old or the new object, never a part.
boto3 is imported inside the methods, so importing the code location stays fast.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, TypeVar

import polars as pl
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext
from pydantic import Field, PrivateAttr

from .core.codecs import EXTENSIONS, PARTITION_FILE_STEM, decode_json, encode_json
from .core.context import asset_label, materialize_hint
from .core.errors import IOManagerError, MissingDataError, UnsafeNameError, UnsupportedTypeError
from .core.frames import concat_frames, merge_frames, select_columns
from .core.metadata import StorageMetadata, storage_metadata
from .core.naming import storage_path_parts, validate_path_segment
from .core.output_metadata import build_output_metadata
from .core.partitions import PartitionSelection, partition_selection, single_partition_key
from .core.payloads import (
    PayloadKind,
    check_dict_write_mode,
    ensure_loadable,
    ensure_supported,
    payload_kind,
)

T = TypeVar("T")

MIB = 1024 * 1024
CONTENT_TYPES: dict[PayloadKind, str] = {
    "dict": "application/json",
    "frame": "application/vnd.apache.parquet",
}
# Error codes that mean the key pair itself was refused (not a permission of a valid identity).
CREDENTIAL_ERROR_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "InvalidClientTokenId",
        "AuthorizationHeaderMalformed",
    }
)
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
FORBIDDEN_CODES = frozenset({"403", "AccessDenied", "Forbidden", "AllAccessDisabled"})
# S3 bucket names: 3-63 characters, lowercase letters, digits, dots and hyphens.
BUCKET_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


class S3Error(IOManagerError):
    """S3 refused or failed a request (after the configured retries)."""


class S3CredentialsError(S3Error, PermissionError):
    """The access key pair was refused by the server, or no credentials were found."""


class S3AccessDeniedError(S3Error, PermissionError):
    """Valid credentials, but the identity may not do this (e.g. create the bucket)."""


class S3BucketNotFoundError(S3Error, FileNotFoundError):
    """The bucket does not exist and is not to be created (``create_bucket=False``)."""


class S3ConnectionError(S3Error, ConnectionError):
    """The endpoint could not be reached, or a transfer kept failing, after the retries."""


class S3IOManager(ConfigurableIOManager):
    """Stores dicts as JSON and polars DataFrames as Parquet objects in ``bucket``.

    One object per asset, or per partition (``<key>/date=YYYY-MM-DD/data.parquet``). Loading
    several partitions returns one concatenated frame, or ``{partition_key: payload}`` for dicts.
    Metadata: ``table`` renames the last key part; ``write_mode`` append/upsert (with
    ``primary_key``) for frames; ``columns`` on inputs selects frame columns. Pass credentials
    as ``dagster.EnvVar``; they are never logged or reported.
    """

    endpoint_url: str | None = Field(
        default=None,
        description="S3 API URL of MinIO or another S3-compatible store, e.g. "
        "http://localhost:9000. Empty or None: AWS S3.",
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
    region: str = Field(default="us-east-1", description="Region of the bucket (signing).")
    use_ssl: bool = Field(
        default=True,
        description="HTTPS for AWS and for an endpoint_url without scheme; a scheme in "
        "endpoint_url (http:// or https://) wins.",
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
        "in parallel; smaller ones in one request. Parquet is spooled to a temp file above it.",
    )
    multipart_chunksize_mb: int = Field(
        default=16, ge=5, description="Part size (MiB) of multipart transfers (S3 minimum: 5)."
    )
    max_concurrency: int = Field(
        default=8, ge=1, le=64, description="Parallel parts per transfer / partitions per load."
    )
    max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Attempts per request, first included (botocore 'standard' retries: "
        "throttling, 5xx and connection errors, exponential backoff with jitter).",
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=60.0, gt=0)

    _client: Any = PrivateAttr(default=None)
    _bucket_ready: bool = PrivateAttr(default=False)

    # ---------------------------------------------------------------- keys

    def _prefix_parts(self) -> list[str]:
        return [
            validate_path_segment(part, "part of the S3 prefix")
            for part in self.prefix.strip("/").split("/")
            if part
        ]

    def _object_keys(
        self,
        context: InputContext | OutputContext,
        meta: StorageMetadata,
        partition_key: str | None,
        selection: PartitionSelection | None,
    ) -> dict[PayloadKind, str]:
        """The object key of the asset (partition) for each payload kind."""
        parts = [*self._prefix_parts(), *storage_path_parts(context, meta)]
        if selection is not None and partition_key is not None:
            parts = [*parts, *selection.path_segments(partition_key), PARTITION_FILE_STEM]
        stem = "/".join(parts)
        return {kind: stem + extension for kind, extension in EXTENSIONS.items()}

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # ---------------------------------------------------------------- output

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        asset = asset_label(context)
        kind = ensure_supported(
            obj,
            context=context,
            manager="S3IOManager",
            supported=("dict", "frame"),
            fix="Return a dict (stored as a JSON object) or a polars.DataFrame (stored as a "
            "Parquet object).",
        )
        meta = storage_metadata(context)
        selection = partition_selection(context)
        partition_key = single_partition_key(
            context, selection, manager="S3IOManager", unit="object"
        )
        keys = self._object_keys(context, meta, partition_key, selection)
        key = keys[kind]
        if kind == "dict":  # payload checks first: a refused payload touches nothing
            check_dict_write_mode(meta, asset=asset)
            data = encode_json(obj, asset=asset)
        self._ensure_bucket(key, log=context.log.info)

        if kind == "dict":
            stored: Any = obj
            version_id = self._put_bytes(key, data, kind)
        else:
            existing = None
            if meta.write_mode != "overwrite":
                existing = self._get(key, missing_ok=True, read=_read_parquet_all)
            stored = merge_frames(existing, obj, meta, asset=asset, where=self.uri(key))
            version_id = self._put_frame(key, stored)

        # One representation per location: drop an object left by an earlier payload type.
        # (Checked first: on a versioned bucket a blind delete would add a delete marker.)
        other = keys["frame" if kind == "dict" else "dict"]
        if self._exists(other):
            self._call("delete", other, lambda s3: s3.delete_object(Bucket=self.bucket, Key=other))

        metadata = build_output_metadata(
            stored,
            partitioned=selection is not None,
            uri=self.uri(key),
            write_mode=meta.write_mode,
        )
        if version_id:
            metadata["s3/version_id"] = MetadataValue.text(version_id)
        context.add_output_metadata(metadata)

    def _put_bytes(self, key: str, data: bytes, kind: PayloadKind) -> str | None:
        response = self._call(
            "write",
            key,
            lambda s3: s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=CONTENT_TYPES[kind]
            ),
        )
        return response.get("VersionId")

    def _put_frame(self, key: str, frame: pl.DataFrame) -> str | None:
        threshold = self.multipart_threshold_mb * MIB
        # Up to the threshold the Parquet bytes stay in memory; beyond it they go to a temp file
        # that the transfer manager uploads in parallel parts.
        with tempfile.SpooledTemporaryFile(max_size=threshold) as buffer:
            frame.write_parquet(buffer)
            size = buffer.tell()
            buffer.seek(0)
            if size < threshold:
                return self._put_bytes(key, buffer.read(), "frame")
            self._call(
                "write",
                key,
                lambda s3: s3.upload_fileobj(
                    buffer,
                    self.bucket,
                    key,
                    ExtraArgs={"ContentType": CONTENT_TYPES["frame"]},
                    Config=self._transfer_config(),
                ),
            )
        # upload_fileobj returns nothing; the version id (versioned buckets) comes from a HEAD.
        head = self._call("write", key, lambda s3: s3.head_object(Bucket=self.bucket, Key=key))
        return head.get("VersionId")

    # ---------------------------------------------------------------- input

    def load_input(self, context: InputContext) -> Any:
        asset = asset_label(context)
        expected = ensure_loadable(
            context, manager="S3IOManager", supported=("dict", "frame"), fix=""
        )
        meta = storage_metadata(context)
        selection = partition_selection(context)
        partition_keys: list[str | None] = list(selection.keys) if selection is not None else [None]
        if not partition_keys:
            return pl.DataFrame() if expected == "frame" else {}
        targets = {
            partition_key: self._object_keys(context, meta, partition_key, selection)
            for partition_key in partition_keys
        }
        first = targets[partition_keys[0]][expected or "frame"]
        context.log.debug(
            f"Loading {len(partition_keys)} object(s) of asset {asset} from {self.uri(first)}"
            + (" ..." if len(partition_keys) > 1 else "")
        )
        self._s3()  # created here, not concurrently by the loading threads

        def load(partition_key: str | None) -> Any:
            return self._load_one(asset, meta, partition_key, targets[partition_key], expected)

        if selection is None or len(partition_keys) == 1:
            return load(partition_keys[0])
        workers = min(self.max_concurrency, len(partition_keys))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            loaded = dict(zip(partition_keys, pool.map(load, partition_keys), strict=True))

        kinds = {payload_kind(value) for value in loaded.values()}
        if kinds == {"frame"}:
            return concat_frames(loaded, asset=asset)
        if kinds == {"dict"}:
            return loaded
        raise UnsupportedTypeError(
            f"Asset {asset}: the selected partitions mix JSON and Parquet objects; "
            "re-materialize them so they hold the same payload type."
        )

    def _load_one(
        self,
        asset: str,
        meta: StorageMetadata,
        partition_key: str | None,
        keys: Mapping[PayloadKind, str],
        expected: PayloadKind | None,
    ) -> Any:
        where = (
            f"partition {partition_key} of asset {asset}"
            if partition_key is not None
            else f"asset {asset}"
        )

        def read_frame(source: IO[bytes]) -> pl.DataFrame:
            uri = self.uri(keys["frame"])
            columns = select_columns(
                list(pl.read_parquet_schema(source)), meta.columns, asset=asset, where=uri
            )
            source.seek(0)
            return pl.read_parquet(source, columns=columns)

        readers: dict[PayloadKind, Callable[[IO[bytes]], Any]] = {
            "frame": read_frame,
            "dict": lambda source: decode_json(source.read()),
        }
        order: list[PayloadKind] = [expected] if expected else ["frame", "dict"]
        for kind in order:
            value = self._get(keys[kind], missing_ok=True, read=readers[kind])
            if value is not None:
                return value

        if expected is not None:
            other: PayloadKind = "dict" if expected == "frame" else "frame"
            if self._exists(keys[other]):
                wanted = "a polars.DataFrame" if expected == "frame" else "a dict"
                raise UnsupportedTypeError(
                    f"Cannot load {where} as {wanted}: it is stored as "
                    f"{self.uri(keys[other])}. Fix the input's type annotation or re-materialize "
                    "the upstream."
                )
        tried = " or ".join(self.uri(keys[kind]) for kind in order)
        missing = (
            "does not exist"
            if self._bucket_exists(keys[order[0]])
            else f"does not exist: bucket {self.bucket!r} itself does not exist"
        )
        raise MissingDataError(
            f"No stored data for {where}: {tried} {missing} at {self._endpoint_label()}. "
            f"{materialize_hint(asset, partition_key)} Or check bucket ({self.bucket!r}), "
            f"prefix ({self.prefix!r}) and endpoint_url."
        )

    def _get(self, key: str, *, missing_ok: bool, read: Callable[[IO[bytes]], T]) -> T | None:
        """Download an object and parse it; ``None`` if it does not exist and ``missing_ok``.

        Below the multipart threshold: one GET, read into memory; an interrupted body is fetched
        again (bounded by ``max_attempts``). From the threshold up: the transfer manager's
        parallel ranged GETs into a temp file, pinned to one version (the VersionId the first
        GET saw on versioned buckets; the transfer manager's If-Match on the ETag otherwise).
        """
        for attempt in range(1, self.max_attempts + 1):
            response = self._call(
                "read",
                key,
                lambda s3: s3.get_object(Bucket=self.bucket, Key=key),
                missing_ok=missing_ok,
            )
            if response is _MISSING:
                return None
            body = response["Body"]
            if response.get("ContentLength", 0) >= self.multipart_threshold_mb * MIB:
                body.close()
                return self._get_large(key, response.get("VersionId"), read)
            try:
                data = body.read()
            except _stream_errors() as error:
                if attempt == self.max_attempts:
                    raise self._translate(error, "read", key) from error
                time.sleep(min(0.2 * 2 ** (attempt - 1), 5.0))
                continue
            return read(io.BytesIO(data))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _get_large(
        self, key: str, version_id: str | None, read: Callable[[IO[bytes]], T]
    ) -> T | None:
        with tempfile.TemporaryFile() as buffer:
            self._call(
                "read",
                key,
                lambda s3: s3.download_fileobj(
                    self.bucket,
                    key,
                    buffer,
                    ExtraArgs={"VersionId": version_id} if version_id else None,
                    Config=self._transfer_config(),
                ),
            )
            buffer.seek(0)
            return read(buffer)

    def _bucket_exists(self, key: str) -> bool:
        found = self._call(
            "check the bucket of",
            key,
            lambda s3: s3.head_bucket(Bucket=self.bucket),
            missing_ok=True,
        )
        return found is not _MISSING

    def _exists(self, key: str) -> bool:
        found = self._call(
            "read", key, lambda s3: s3.head_object(Bucket=self.bucket, Key=key), missing_ok=True
        )
        return found is not _MISSING

    # ---------------------------------------------------------------- client and bucket

    def _s3(self) -> Any:
        """The boto3 client, created on first use (boto3 clients are thread-safe)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            access_key, secret_key = self.access_key or None, self.secret_key or None
            if (access_key is None) != (secret_key is None):
                given, empty = (
                    ("access_key", "secret_key") if access_key else ("secret_key", "access_key")
                )
                raise S3CredentialsError(
                    f"S3IOManager for bucket {self.bucket!r}: {given} is set but {empty} is "
                    "empty. Set both (e.g. EnvVar('S3_ACCESS_KEY') and EnvVar('S3_SECRET_KEY')), "
                    "or neither to use boto3's default credential chain."
                )
            config = Config(
                region_name=self.region or None,
                signature_version="s3v4",
                # botocore's own "max_attempts" counts retries only; total_max_attempts counts
                # the first attempt too, which is what our max_attempts means.
                retries={"mode": "standard", "total_max_attempts": self.max_attempts},
                connect_timeout=self.connect_timeout_seconds,
                read_timeout=self.read_timeout_seconds,
                max_pool_connections=max(10, 2 * self.max_concurrency),
                # MinIO and most S3-compatible stores serve buckets as paths, not subdomains.
                s3={"addressing_style": "path"} if self._endpoint() else {},
            )
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self._endpoint(),
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                use_ssl=self.use_ssl,
                config=config,
            )
        return self._client

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold_mb * MIB,
            multipart_chunksize=self.multipart_chunksize_mb * MIB,
            max_concurrency=self.max_concurrency,
            num_download_attempts=self.max_attempts,
        )

    def _endpoint(self) -> str | None:
        url = (self.endpoint_url or "").strip()
        if not url:
            return None
        if "://" not in url:
            url = ("https://" if self.use_ssl else "http://") + url
        return url

    def _endpoint_label(self) -> str:
        endpoint = self._endpoint()
        return f"endpoint {endpoint}" if endpoint else f"AWS S3 (region {self.region})"

    def _ensure_bucket(self, key: str, *, log: Callable[[str], Any] | None = None) -> None:
        """Check once per manager that the bucket exists before writing; create it if allowed."""
        if self._bucket_ready:
            return
        self._check_bucket_name()
        if not self._bucket_exists(key):
            if not self.create_bucket:
                raise S3BucketNotFoundError(
                    f"Bucket {self.bucket!r} does not exist at {self._endpoint_label()} (needed "
                    f"for {self.uri(key)}), and create_bucket is False. {self._bucket_fix()} "
                    "Or set create_bucket=True if the credentials may create buckets."
                )
            self._create_bucket(key)
            if log is not None:
                log(f"Created bucket {self.bucket!r} at {self._endpoint_label()}")
        self._bucket_ready = True

    def _create_bucket(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        arguments: dict[str, Any] = {"Bucket": self.bucket}
        if self.region and self.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._call_raw(lambda s3: s3.create_bucket(**arguments))
        except ClientError as error:
            code = _error_code(error)
            if code == "BucketAlreadyOwnedByYou":  # created concurrently by another run
                return
            if code in FORBIDDEN_CODES:
                raise S3AccessDeniedError(
                    f"Bucket {self.bucket!r} does not exist at {self._endpoint_label()} (needed "
                    f"for {self.uri(key)}), and the identity of {self._access_key_label()} may "
                    f"not create it ({code}). {self._bucket_fix()} Or grant that identity "
                    "s3:CreateBucket, or set create_bucket=False to fail fast."
                ) from error
            if code == "BucketAlreadyExists":
                raise S3Error(
                    f"Bucket name {self.bucket!r} is taken by another account "
                    f"({self._endpoint_label()}). Choose another bucket name."
                ) from error
            raise self._translate(error, "create the bucket for", key) from error
        except BotoCoreError as error:
            raise self._translate(error, "create the bucket for", key) from error

    def _bucket_fix(self) -> str:
        if self._endpoint():
            return (
                f"Create it first: with docker compose the minio-create-bucket service does "
                f"(S3_BUCKET={self.bucket}), or `mc mb <alias>/{self.bucket}`."
            )
        return f"Create it first: `aws s3 mb s3://{self.bucket} --region {self.region}`."

    def _check_bucket_name(self) -> None:
        name = self.bucket
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

    # ---------------------------------------------------------------- errors

    def _call_raw(self, operation: Callable[[Any], T]) -> T:
        return operation(self._s3())

    def _call(
        self,
        action: str,
        key: str,
        operation: Callable[[Any], T],
        *,
        missing_ok: bool = False,
    ) -> T | _Missing:
        """Run one S3 operation; translate failures into errors that say what to fix.

        Retries of transient failures happen inside botocore and the transfer manager (bounded
        by ``max_attempts``); what reaches this point failed for good. With ``missing_ok``, a
        missing object or bucket returns ``_MISSING`` instead of raising.
        """
        from botocore.exceptions import BotoCoreError, ClientError
        from s3transfer.exceptions import RetriesExceededError

        try:
            return self._call_raw(operation)
        except ClientError as error:
            if missing_ok and _error_code(error) in NOT_FOUND_CODES:
                return _MISSING
            raise self._translate(error, action, key) from error
        except (BotoCoreError, RetriesExceededError) as error:
            raise self._translate(error, action, key) from error

    def _translate(self, error: BaseException, action: str, key: str) -> S3Error:
        from botocore.exceptions import (
            ClientError,
            HTTPClientError,
            IncompleteReadError,
            NoCredentialsError,
            PartialCredentialsError,
        )
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from s3transfer.exceptions import RetriesExceededError

        target = f"{action} {self.uri(key)} at {self._endpoint_label()}"
        if isinstance(error, RetriesExceededError):
            error = error.last_exception
        if isinstance(error, NoCredentialsError | PartialCredentialsError):
            return S3CredentialsError(
                f"No S3 credentials to {target}. Set access_key and secret_key (EnvVar("
                "'S3_ACCESS_KEY'), EnvVar('S3_SECRET_KEY')), or configure boto3's default chain "
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, an instance role)."
            )
        if isinstance(error, BotoConnectionError | HTTPClientError | IncompleteReadError):
            return S3ConnectionError(
                f"Could not {target}: {type(error).__name__} after {self.max_attempts} "
                f"attempt(s) ({self._redact(str(error))}). Is the server running and reachable "
                "(docker compose up -d minio for the local MinIO)? Check endpoint_url "
                "(S3_ENDPOINT_URL), use_ssl and the network; raise max_attempts or the timeouts "
                "for a slow link."
            )
        if not isinstance(error, ClientError):
            return S3Error(f"Could not {target}: {self._redact(str(error))}")

        code = _error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = self._redact(error.response.get("Error", {}).get("Message") or "")
        if code in {"403", "Forbidden"}:
            # HEAD responses carry no error body; a listing tells wrong keys from a denial.
            code = self._diagnose_forbidden() or code
        if code in CREDENTIAL_ERROR_CODES:
            return S3CredentialsError(
                f"S3 refused the credentials ({code}) of {self._access_key_label()} trying to "
                f"{target}. Check access_key and secret_key (S3_ACCESS_KEY / S3_SECRET_KEY in "
                ".env): the pair must be valid for this endpoint (and region)."
            )
        if code in FORBIDDEN_CODES:
            return S3AccessDeniedError(
                f"Access denied ({code}) to {target} for the identity of "
                f"{self._access_key_label()}. Grant it s3:GetObject, s3:PutObject, "
                f"s3:DeleteObject and s3:ListBucket on bucket {self.bucket!r}, or use other "
                "credentials."
            )
        if code == "NoSuchBucket":
            return S3BucketNotFoundError(
                f"Bucket {self.bucket!r} does not exist ({target}). {self._bucket_fix()}"
            )
        return S3Error(
            f"S3 answered {code} (HTTP {status}) to {target}: {message or 'no message'}. "
            f"Retried up to {self.max_attempts} attempt(s) when the error was transient."
        )

    def _diagnose_forbidden(self) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._call_raw(lambda s3: s3.list_objects_v2(Bucket=self.bucket, MaxKeys=1))
        except ClientError as error:
            return _error_code(error)
        except BotoCoreError:
            return None
        return None

    def _access_key_label(self) -> str:
        key = self.access_key or ""
        if not key:
            return "the default AWS credential chain"
        # Enough to tell which key is configured, not enough to use it.
        return f"access key {key[:4]}{'*' * 8}" if len(key) >= 8 else "access key ********"

    def _redact(self, text: str) -> str:
        for secret in (self.secret_key, self.access_key):
            if secret:
                text = text.replace(secret, "********")
        return text


class _Missing:
    """Marker of a missing object or bucket (``_call(..., missing_ok=True)``)."""


_MISSING = _Missing()


def _error_code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _stream_errors() -> tuple[type[BaseException], ...]:
    """Errors of reading a response body that a new GET may not hit (connection cut, timeout)."""
    from botocore.exceptions import HTTPClientError, IncompleteReadError

    return (HTTPClientError, IncompleteReadError, OSError)


def _read_parquet_all(source: IO[bytes]) -> pl.DataFrame:
    return pl.read_parquet(source)
