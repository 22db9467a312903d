"""The files under a table's location that nothing of the table refers to, and their removal.

A failed or killed write leaves the data and manifest files it had written before its commit;
snapshots dropped by ``table.maintenance.expire_snapshots()`` leave theirs. No snapshot
references them, so no reader sees them, but they take space. pyiceberg 0.12 has no orphan-file
cleanup (Spark's ``remove_orphan_files`` procedure is the usual one); this is the same rule on
pyiceberg's public API: a file is an orphan when it lies under the table's location, no
metadata version, snapshot, manifest or statistics file of the table names it, and it is older
than a threshold (so a write still running, whose files are not committed yet, keeps them).

Example::

    table = manager.catalog().load_table(("market", "ohlcv"))
    for orphan in orphan_files(table, older_than=dt.timedelta(days=3)):
        print(orphan.uri, orphan.size)
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import IOManagerError

if TYPE_CHECKING:
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.table import Table

#: Spark's default: a write running for longer than three days is not expected.
DEFAULT_ORPHAN_AGE = dt.timedelta(days=3)


@dataclass(frozen=True)
class OrphanFile:
    """A file under the table's location that the table does not reference."""

    uri: str
    size: int
    modified: dt.datetime


def referenced_files(table: Table) -> set[str]:
    """Every file the table's metadata names, as (scheme-less) paths: metadata versions,
    manifest lists, manifests, data and delete files of every snapshot, statistics files."""
    metadata = table.metadata
    uris = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    uris.update(snapshot.manifest_list for snapshot in metadata.snapshots)
    # Snapshots share most manifests: each manifest list and each distinct manifest is read
    # once. Entries of deleted files count too: older snapshots still name those files.
    manifests = {
        manifest.manifest_path: manifest
        for snapshot in metadata.snapshots
        for manifest in snapshot.manifests(table.io)
    }
    uris.update(manifests)
    for manifest in manifests.values():
        entries = manifest.fetch_manifest_entry(table.io, discard_deleted=False)
        uris.update(entry.data_file.file_path for entry in entries)
    uris.update(stats.statistics_path for stats in metadata.statistics)
    uris.update(stats.statistics_path for stats in metadata.partition_statistics)
    io = _pyarrow_io(table)
    return {io.parse_location(uri)[2] for uri in uris if uri}


def orphan_files(
    table: Table, *, older_than: dt.timedelta = DEFAULT_ORPHAN_AGE
) -> list[OrphanFile]:
    """The orphans under the table's location last modified more than ``older_than`` ago."""
    from pyarrow import fs

    if older_than < dt.timedelta(0):
        raise ValueError(f"older_than must not be negative, got {older_than}.")
    io = _pyarrow_io(table)
    scheme, netloc, root = io.parse_location(table.location())
    referenced = referenced_files(table)
    listed = [
        info
        for info in io.fs_by_scheme(scheme, netloc).get_file_info(
            fs.FileSelector(root, recursive=True, allow_not_found=True)
        )
        if info.type == fs.FileType.File
    ]
    # The current metadata file lies under the location by default: if the listing does not
    # show it, its paths are not spelt as the metadata spells them, and every file would look
    # like an orphan. Refuse rather than delete the table's data.
    current = io.parse_location(table.metadata_location)[2]
    if current.startswith(root + "/") and current not in {info.path for info in listed}:
        raise IOManagerError(
            f"The files listed under {table.location()} do not include the table's current "
            f"metadata file {table.metadata_location}, so which files are referenced cannot "
            "be told; nothing was removed. Check that the warehouse settings (endpoint, "
            "bucket) are the ones the table was written with."
        )
    cutoff_ns = time.time_ns() - int(older_than.total_seconds() * 1e9)
    return sorted(
        (
            OrphanFile(
                uri=f"{scheme}://{info.path}",
                size=info.size or 0,
                modified=dt.datetime.fromtimestamp((info.mtime_ns or 0) / 1e9, dt.UTC),
            )
            for info in listed
            if info.path not in referenced and (info.mtime_ns or 0) < cutoff_ns
        ),
        key=lambda orphan: orphan.uri,
    )


def remove_files(table: Table, orphans: list[OrphanFile]) -> None:
    """Delete these files through the table's own file IO."""
    io = _pyarrow_io(table)
    for orphan in orphans:
        io.delete(orphan.uri)


def _pyarrow_io(table: Table) -> PyArrowFileIO:
    from pyiceberg.io.pyarrow import PyArrowFileIO

    if not isinstance(table.io, PyArrowFileIO):
        raise IOManagerError(
            f"Listing the files of {table.location()} needs pyiceberg's PyArrowFileIO; the "
            f"table uses {type(table.io).__name__}. Remove its orphan files with Spark's "
            "remove_orphan_files procedure instead."
        )
    return table.io
