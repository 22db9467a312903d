"""S3 errors, and the translation of botocore failures into errors that name the fix.

Credentials never reach a message: the access key is shown by its first characters only, and
both keys are redacted from any text a server or botocore returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import IOManagerError

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


class S3Error(IOManagerError):
    """S3 refused or failed a request (after the configured retries).

    Example::

        try:
            manager.handle_output(context, frame)
        except S3Error as error:  # every failure of S3IOManager's requests
            context.log.error(str(error))  # names the object, the endpoint and the fix
    """

    RETRYABLE = True


class S3CredentialsError(S3Error, PermissionError):
    """The access key pair was refused by the server, or no credentials were found.

    Example::

        with pytest.raises(S3CredentialsError, match="S3_SECRET_KEY"):
            S3IOManager(
                bucket="b", access_key="a", secret_key="wrong"  # pragma: allowlist secret
            ).handle_output(ctx, {})
    """

    RETRYABLE = False


class S3AccessDeniedError(S3Error, PermissionError):
    """Valid credentials, but the identity may not do this (e.g. create the bucket).

    Example::

        except S3AccessDeniedError:  # grant s3:CreateBucket, or create_bucket=False
            ...
    """

    RETRYABLE = False


class S3BucketNotFoundError(S3Error, FileNotFoundError):
    """The bucket does not exist and is not to be created (``create_bucket=False``).

    Example::

        S3IOManager(bucket="missing", create_bucket=False)  # first write raises this
    """

    RETRYABLE = False


class S3ConnectionError(S3Error, ConnectionError):
    """The endpoint could not be reached, or a transfer kept failing, after the retries.

    Example::

        except S3ConnectionError as error:  # "... after 5 attempt(s) ... Is the server running"
            ...
    """


def error_code(error: Any) -> str:
    """The S3 error code of a botocore ``ClientError`` (``""`` if it has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class ErrorTranslator:
    """Turns a botocore failure into the :class:`S3Error` that says what to fix.

    ``diagnose_forbidden`` tells wrong keys from a denial when a HEAD answered a bare 403
    (it returns the error code a listing gets, or ``None``).

    Example::

        translator = ErrorTranslator(
            bucket="crypto-data", endpoint_label="endpoint http://localhost:9000",
            access_key="minioadmin", secret_key="...", max_attempts=5,
            bucket_fix="Create it first.", diagnose_forbidden=lambda: None,
        )
        raise translator.translate(error, "read", "s3://crypto-data/raw/x.json") from error
    """

    bucket: str
    endpoint_label: str
    access_key: str | None
    secret_key: str | None
    max_attempts: int
    bucket_fix: str
    diagnose_forbidden: Callable[[], str | None]

    def translate(self, error: BaseException, action: str, uri: str) -> S3Error:
        from botocore.exceptions import (
            ClientError,
            HTTPClientError,
            IncompleteReadError,
            NoCredentialsError,
            PartialCredentialsError,
            SSLError,
        )
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from s3transfer.exceptions import RetriesExceededError

        target = f"{action} {uri} at {self.endpoint_label}"
        if isinstance(error, RetriesExceededError):
            error = error.last_exception
        if isinstance(error, NoCredentialsError | PartialCredentialsError):
            return S3CredentialsError(
                f"No S3 credentials to {target}. Set access_key and secret_key (EnvVar("
                "'S3_ACCESS_KEY'), EnvVar('S3_SECRET_KEY')), or configure boto3's default chain "
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, an instance role)."
            )
        if isinstance(error, SSLError):
            return S3ConnectionError(
                f"Could not {target}: the TLS handshake failed ({self.redact(str(error))}). "
                "If the endpoint serves plain HTTP (a local MinIO or SeaweedFS), set "
                "use_ssl=False or write http:// in endpoint_url (or in AWS_ENDPOINT_URL_S3); if "
                "it serves HTTPS with a private certificate, point AWS_CA_BUNDLE at its CA."
            )
        if isinstance(error, BotoConnectionError | HTTPClientError | IncompleteReadError):
            return S3ConnectionError(
                f"Could not {target}: {type(error).__name__} after {self.max_attempts} "
                f"attempt(s) ({self.redact(str(error))}). Is the server running and reachable "
                "(docker compose up -d minio for the local MinIO)? Check endpoint_url "
                "(S3_ENDPOINT_URL), use_ssl and the network; raise max_attempts or the timeouts "
                "for a slow link."
            )
        if not isinstance(error, ClientError):
            return S3Error(f"Could not {target}: {self.redact(str(error))}")

        code = error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = self.redact(error.response.get("Error", {}).get("Message") or "")
        if code in {"403", "Forbidden"}:
            # HEAD responses carry no error body; a listing tells wrong keys from a denial.
            code = self.diagnose_forbidden() or code
        if code in CREDENTIAL_ERROR_CODES and not self.access_key:
            return S3CredentialsError(
                f"S3 refused the credentials ({code}) of the default AWS credential chain "
                f"trying to {target}. Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the "
                "profile or role boto3 picks up): the pair must be valid for this endpoint "
                "(and region). Or set access_key and secret_key."
            )
        if code in CREDENTIAL_ERROR_CODES:
            return S3CredentialsError(
                f"S3 refused the credentials ({code}) of {self.access_key_label()} trying to "
                f"{target}. Check access_key and secret_key (S3_ACCESS_KEY / S3_SECRET_KEY in "
                ".env): the pair must be valid for this endpoint (and region)."
            )
        if code in FORBIDDEN_CODES:
            return S3AccessDeniedError(
                f"Access denied ({code}) to {target} for the identity of "
                f"{self.access_key_label()}. Grant it s3:GetObject, s3:PutObject, "
                f"s3:DeleteObject and s3:ListBucket on bucket {self.bucket!r}, or use other "
                "credentials."
            )
        if code == "NoSuchBucket":
            return S3BucketNotFoundError(
                f"Bucket {self.bucket!r} does not exist ({target}). {self.bucket_fix}"
            )
        return S3Error(
            f"S3 answered {code} (HTTP {status}) to {target}: {message or 'no message'}. "
            f"Retried up to {self.max_attempts} attempt(s) when the error was transient."
        )

    def access_key_label(self) -> str:
        key = self.access_key or ""
        if not key:
            return "the default AWS credential chain"
        # Enough to tell which key is configured, not enough to use it.
        return f"access key {key[:4]}{'*' * 8}" if len(key) >= 8 else "access key ********"

    def redact(self, text: str) -> str:
        for secret in (self.secret_key, self.access_key):
            if secret:
                text = text.replace(secret, "********")
        return text
