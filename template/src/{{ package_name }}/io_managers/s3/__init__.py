"""S3IOManager and its pieces: the manager and its settings (``manager``), the boto3 client and
bucket handling (``client``), the file store backend (``backend``), error translation
(``errors``). boto3 is imported inside functions only, so importing the code location stays fast.
"""

from .backend import S3Backend
from .client import S3Client, S3Settings
from .errors import (
    S3AccessDeniedError,
    S3BucketNotFoundError,
    S3ConnectionError,
    S3CredentialsError,
    S3Error,
)
from .manager import S3IOManager

__all__ = [
    "S3AccessDeniedError",
    "S3Backend",
    "S3BucketNotFoundError",
    "S3Client",
    "S3ConnectionError",
    "S3CredentialsError",
    "S3Error",
    "S3IOManager",
    "S3Settings",
]
