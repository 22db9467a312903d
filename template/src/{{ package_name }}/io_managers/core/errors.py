"""The errors of the project's IO managers: one hierarchy, each naming what to fix."""

from __future__ import annotations


class IOManagerError(Exception):
    """Base class of the errors raised by the project's IO managers."""


class MetadataError(IOManagerError, ValueError):
    """Asset metadata of the storage vocabulary is missing or invalid."""


class UnsafeNameError(IOManagerError, ValueError):
    """A name (identifier, path segment, partition key) would be unsafe to use."""


class UnsupportedTypeError(IOManagerError, TypeError):
    """The IO manager cannot store or load an object of this type."""


class MissingDataError(IOManagerError, FileNotFoundError):
    """The stored object, file or table to load does not exist."""


class SchemaDriftError(IOManagerError, ValueError):
    """The columns or dtypes of a frame do not match what is already stored."""


class PartitionMismatchError(IOManagerError, ValueError):
    """A frame holds rows outside the partition(s) being written."""


class StorageLockedError(IOManagerError, TimeoutError):
    """Another process held the storage lock for longer than the configured timeout."""


class JSONEncodingError(IOManagerError, TypeError):
    """A dict payload holds a value JSON cannot represent without losing data."""
