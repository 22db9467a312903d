"""S3 as a file store backend: objects under an optional key prefix of one bucket.

Each object is written by one PUT, or by one multipart upload, which S3 publishes only when it
completes: readers see the old or the new object, never a part.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections.abc import Callable
from typing import IO, Any, TypeVar

from ...retry import Backoff, Retry, retry_call
from ..core.naming import validate_path_segment
from ..files.backend import Log, Source, Writer
from .client import MISSING, S3Client

T = TypeVar("T")


class _InterruptedBody(Exception):
    """The body of a GET broke off (connection cut, timeout); a new GET may get it whole."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _LargeObject:
    """A GET found an object at or above the multipart threshold: download it in parts."""

    def __init__(self, version_id: str | None) -> None:
        self.version_id = version_id


def _stream_errors() -> tuple[type[BaseException], ...]:
    """Errors of reading a response body that a new GET may not hit (connection cut, timeout)."""
    from botocore.exceptions import HTTPClientError, IncompleteReadError

    return (HTTPClientError, IncompleteReadError, OSError)


class S3Backend:
    """Objects ``<prefix>/<path>`` in the bucket of ``client``.

    Below the multipart threshold an object is one PUT or GET (an interrupted body is fetched
    again, with backoff and jitter, at most ``max_attempts`` times); from the threshold up,
    the transfer manager moves parallel parts through a temp file.

    Example::

        backend = S3Backend(S3Client(settings), prefix="crypto")
        backend.put("raw/x.json", lambda handle: handle.write(b"{}"),
                    content_type="application/json")  # s3://<bucket>/crypto/raw/x.json
        backend.get("raw/x.json", lambda source: source.read())  # b"{}"
    """

    def __init__(self, client: S3Client, prefix: str = "", log: Log | None = None) -> None:
        self.client = client
        self.log = log
        self._prefix = "".join(
            validate_path_segment(part, "part of the S3 prefix") + "/"
            for part in prefix.strip("/").split("/")
            if part
        )

    def key(self, path: str) -> str:
        return self._prefix + path

    def uri(self, path: str) -> str:
        return self.client.uri(self.key(path))

    # ---------------------------------------------------------------- write

    def put(
        self, path: str, write: Writer, *, content_type: str, log: Log | None = None
    ) -> str | None:
        key, bucket = self.key(path), self.client.settings.bucket
        threshold = self.client.settings.threshold_bytes
        # Up to the threshold the bytes stay in memory; beyond it they go to a temp file that
        # the transfer manager uploads in parallel parts. Encoded first: a payload that fails
        # to encode touches nothing.
        with tempfile.SpooledTemporaryFile(max_size=threshold) as buffer:
            write(buffer)
            size = buffer.tell()
            buffer.seek(0)
            self.client.ensure_bucket(key, log=log)
            if size < threshold:
                data = buffer.read()
                response = self.client.call_required(
                    "write",
                    key,
                    lambda s3: s3.put_object(
                        Bucket=bucket, Key=key, Body=data, ContentType=content_type
                    ),
                )
                return response.get("VersionId")
            self.client.call(
                "write",
                key,
                lambda s3: s3.upload_fileobj(
                    buffer,
                    bucket,
                    key,
                    ExtraArgs={"ContentType": content_type},
                    Config=self.client.transfer_config(),
                ),
            )
        # upload_fileobj returns nothing; the version id (versioned buckets) comes from a HEAD.
        head = self.client.call_required(
            "write", key, lambda s3: s3.head_object(Bucket=bucket, Key=key)
        )
        return head.get("VersionId")

    # ---------------------------------------------------------------- read

    def get(self, path: str, read: Callable[[Source], T]) -> T | None:
        """Download an object and parse it; ``None`` if it does not exist.

        Below the multipart threshold: one GET, read into memory. From the threshold up: the
        transfer manager's parallel ranged GETs into a temp file, pinned to one version (the
        VersionId the first GET saw on versioned buckets; the transfer manager's If-Match on
        the ETag otherwise).
        """
        key = self.key(path)
        settings = self.client.settings
        try:
            fetched = retry_call(
                lambda: self._get_body(key),
                retry_on=lambda error: isinstance(error, _InterruptedBody),
                backoff=Backoff(
                    attempts=settings.max_attempts,
                    timeout_seconds=settings.max_attempts * settings.read_timeout_seconds,
                    initial_seconds=0.2,
                    max_seconds=5.0,
                ),
                on_retry=self._log_retry(key),
            )
        except _InterruptedBody as interrupted:
            raise self.client.errors.translate(
                interrupted.cause, "read", self.client.uri(key)
            ) from interrupted.cause
        if fetched is None:
            return None
        if isinstance(fetched, _LargeObject):
            return self._get_large(key, fetched.version_id, read)
        return read(io.BytesIO(fetched))

    def _get_body(self, key: str) -> bytes | _LargeObject | None:
        bucket = self.client.settings.bucket
        response = self.client.call(
            "read", key, lambda s3: s3.get_object(Bucket=bucket, Key=key), missing_ok=True
        )
        if response is MISSING:
            return None
        assert isinstance(response, dict)
        body = response["Body"]
        if response.get("ContentLength", 0) >= self.client.settings.threshold_bytes:
            body.close()
            return _LargeObject(response.get("VersionId"))
        try:
            return body.read()
        except _stream_errors() as error:
            raise _InterruptedBody(error) from error

    def _log_retry(self, key: str) -> Callable[[Retry], None] | None:
        if self.log is None:
            return None
        log = self.log

        def on_retry(retry: Retry) -> None:
            log(
                f"Reading {self.client.uri(key)} broke off ({retry.error}); GET again, attempt "
                f"{retry.attempt + 1} of {retry.attempts} in {retry.wait:.2f}s"
            )

        return on_retry

    def _get_large(self, key: str, version_id: str | None, read: Callable[[Source], T]) -> T:
        bucket = self.client.settings.bucket
        with tempfile.TemporaryFile() as buffer:
            target: IO[bytes] = buffer
            extra: dict[str, Any] | None = {"VersionId": version_id} if version_id else None
            self.client.call(
                "read",
                key,
                lambda s3: s3.download_fileobj(
                    bucket, key, target, ExtraArgs=extra, Config=self.client.transfer_config()
                ),
            )
            buffer.seek(0)
            return read(buffer)

    # ---------------------------------------------------------------- exists, delete

    def exists(self, path: str) -> bool:
        key, bucket = self.key(path), self.client.settings.bucket
        found = self.client.call(
            "read", key, lambda s3: s3.head_object(Bucket=bucket, Key=key), missing_ok=True
        )
        return found is not MISSING

    def modified(self, path: str) -> dt.datetime | None:
        """The object's LastModified (UTC); ``None`` if it does not exist."""
        key, bucket = self.key(path), self.client.settings.bucket
        found = self.client.call(
            "read", key, lambda s3: s3.head_object(Bucket=bucket, Key=key), missing_ok=True
        )
        if not isinstance(found, dict):
            return None
        modified = found.get("LastModified")
        return modified.astimezone(dt.UTC) if isinstance(modified, dt.datetime) else None

    def delete(self, path: str) -> None:
        key, bucket = self.key(path), self.client.settings.bucket
        self.client.call(
            "delete", key, lambda s3: s3.delete_object(Bucket=bucket, Key=key), missing_ok=True
        )
