"""The errors of the project's IO managers: one hierarchy, each naming what to fix."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg


class IOManagerError(dg.Failure):
    """Base class of the errors raised by the project's IO managers.

    Each subclass also derives from the matching built-in error (``ValueError``,
    ``FileNotFoundError`` ...), and every message names the asset and what to fix.

    Each is a ``dg.Failure`` too, so a step's retry policy tells them apart: an error no retry
    can fix (bad metadata, missing upstream data, a refused login; ``RETRYABLE = False``) fails
    the step at once, and one that may pass (a held lock, a server that did not answer, after
    the manager's own retries; ``RETRYABLE = True``) goes through the policy.

    Example::

        manager = FilesystemIOManager(base_path="data")
        try:
            payload = manager.load_input(context)
        except MissingDataError as error:
            log.warning(f"{error}")  # "No stored data for asset raw/x: ... Materialize ..."
        except IOManagerError as error:
            raise dg.Failure(str(error)) from error
    """

    RETRYABLE: ClassVar[bool] = False

    def __init__(self, message: str = "") -> None:
        super().__init__(description=message, allow_retries=self.RETRYABLE)


class MetadataError(IOManagerError, ValueError):
    """Asset metadata of the storage vocabulary is missing or invalid.

    Example::

        StorageMetadata.parse({"write_mode": "merge"}, asset="market/ohlcv")  # raises
    """


class UnsafeNameError(IOManagerError, ValueError):
    """A name (identifier, path segment, partition key) would be unsafe to use.

    Example::

        validate_path_segment("..", "partition key")  # raises: a relative directory reference
    """


class UnsafeExpressionError(UnsafeNameError, MetadataError):
    """A ``partition_expr`` expression outside the accepted grammar (core/expressions.py).

    Example::

        parse_partition_expr("ts; DROP TABLE t", asset="market/ohlcv")  # raises: two statements
    """


class UnsupportedTypeError(IOManagerError, TypeError):
    """The IO manager cannot store or load an object of this type.

    Example::

        FilesystemIOManager(base_path="data").handle_output(context, [1, 2])  # raises: a list
    """


class MissingDataError(IOManagerError, FileNotFoundError):
    """The stored object, file or table to load does not exist.

    Example::

        manager.load_input(context)  # raises when the upstream partition was never materialized
    """


class SchemaDriftError(IOManagerError, ValueError):
    """The columns or dtypes of a frame do not match what is already stored.

    Example::

        # raises when the frame brings a new column, drops one or changes a dtype
        check_no_drift(stored_schema, frame.schema, asset="market/ohlcv", where="market.ohlcv")
    """


class PartitionMismatchError(IOManagerError, ValueError):
    """A frame holds rows outside the partition(s) being written.

    Example::

        check_frame_in_selection(frame, filters, asset="market/ohlcv")  # a row of another day
    """


class StorageLockedError(IOManagerError, TimeoutError):
    """Another process held the storage lock for longer than the configured timeout.

    Example::

        # raises when another process still holds the file after 60 s
        retry_while_locked(connect, is_locked=is_lock_error, timeout_seconds=60, resource=name)
    """

    RETRYABLE = True


class JSONEncodingError(IOManagerError, TypeError):
    """A dict payload holds a value JSON cannot represent without losing data.

    Example::

        encode_json({"price": float("nan")}, asset="raw/x")  # raises: NaN has no JSON form
    """
