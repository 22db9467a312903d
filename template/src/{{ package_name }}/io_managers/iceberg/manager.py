"""IcebergIOManager: polars DataFrames as Iceberg tables in a SQL catalog, files local or on S3.

The manager is configuration; the client (:mod:`.client`) drives pyiceberg under the write and
read algorithm every table store shares (:class:`..tables.TableStore`). pyiceberg is imported
inside functions only, so importing the code location stays fast. See docs/io-manager-iceberg.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from dagster import InputContext, MetadataValue
from pydantic import Field, PrivateAttr

from ...retry import Backoff, retry_call
from ..core.config import endpoint_with_scheme
from ..core.context import asset_label
from ..core.errors import MetadataError, MissingDataError
from ..core.metadata import WriteMode
from ..core.storage import AssetRef, Definition, whole_asset_context
from ..tables import TableIOManager, TableStore
from .client import IcebergClient, IcebergSettings, ReadOptions
from .maintenance import DEFAULT_ORPHAN_AGE, OrphanFile, orphan_files, remove_files

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog
    from sqlalchemy import URL

CATALOG_INIT_ATTEMPTS = 5
CATALOG_CREATION_CLASHES = ("already exists", "duplicate key value")
#: Input metadata keys of a load as of a snapshot or a time, and of an extra row filter.
SNAPSHOT_ID_KEY = "snapshot_id"
AS_OF_KEY = "as_of"
ROW_FILTER_KEY = "iceberg_partition_filter"


class IcebergIOManager(TableIOManager):
    """Stores polars DataFrames as Iceberg tables: a SQL catalog, data files in a warehouse.

    Table: ``<namespace>.<table>``; namespace from asset metadata ``schema`` (alias
    ``iceberg_namespace``), then this manager's ``schema``, then the asset key prefix, then
    ``namespace``; table from metadata ``table`` (``iceberg_table``) or the last part of the
    asset key. Partitioned assets name their column in ``partition_expr``
    (``iceberg_partition_column``): the table gets a day partition field on it, and a
    partition write replaces exactly its slice in one commit. ``write_mode``
    (``iceberg_write_mode``): overwrite, append, or upsert on ``primary_key``
    (``iceberg_upsert_keys``); the default is ``default_write_mode``.

    Every commit's snapshot summary holds the run id, asset key and partition key, plus the
    asset's ``iceberg_snapshot_props``. Inputs may set ``columns``, ``snapshot_id`` or
    ``as_of`` (time travel), and ``iceberg_partition_filter`` (an Iceberg row filter such as
    ``"symbol = 'BTC/USDT'"``).

    Example::

        import dagster as dg

        defs = dg.Definitions(
            assets=[...],
            resources={
                "transform_io_manager": IcebergIOManager(
                    catalog_uri="postgresql+psycopg://dagster@localhost:5432/dagster",
                    catalog_password=dg.EnvVar("POSTGRES_PASSWORD"),
                    warehouse="s3://crypto-lake/iceberg",
                    endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
                    access_key=dg.EnvVar("S3_ACCESS_KEY"),
                    secret_key=dg.EnvVar("S3_SECRET_KEY"),
                    use_ssl=False,
                    namespace="market",
                )
            },
        )
    """

    catalog_uri: str = Field(
        # Out of repr: a URI may carry a password; messages and metadata show it masked.
        repr=False,
        description="SQLAlchemy URL of the catalog database: 'sqlite:///data/iceberg/catalog.db' "
        "(a file, made on first use) or 'postgresql+psycopg://user@host:5432/db' (tables "
        "iceberg_tables and iceberg_namespace_properties are created in it).",
    )
    catalog_password: str | None = Field(
        default=None,
        repr=False,
        description="Password of the catalog database (use EnvVar); never logged or reported.",
    )
    catalog_name: str = Field(
        default="dagster", description="Name of the catalog inside the catalog database."
    )
    warehouse: str = Field(
        description="Where data and metadata files go: a local folder ('data/iceberg') or "
        "'s3://bucket/prefix'."
    )
    namespace: str = Field(
        default="default",
        description="Namespace of tables whose metadata, schema setting and key prefix name none.",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="S3 warehouse: API URL of an S3-compatible store (MinIO, SeaweedFS); None: "
        "AWS S3.",
    )
    access_key: str | None = Field(
        default=None, repr=False, description="S3 access key id (use EnvVar)."
    )
    secret_key: str | None = Field(
        default=None, repr=False, description="S3 secret access key (use EnvVar)."
    )
    region: str | None = Field(
        default=None, description="S3 region (request signing); None: us-east-1."
    )
    use_ssl: bool = Field(
        default=True, description="HTTPS for an endpoint_url without scheme; a scheme wins."
    )
    default_write_mode: WriteMode = Field(
        default="overwrite",
        description="Write mode of assets whose metadata names none ('append' is the "
        "behaviour of the Iceberg IO manager specification).",
    )
    infer_schema_from_data: bool = Field(
        default=True,
        description="Create a missing table from the first frame. False: tables must exist "
        "(made with pyiceberg or another engine); a missing one is an error.",
    )
    commit_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Attempts of a write whose commit loses a race with another writer (it is "
        "redone on the new snapshot), then IcebergCommitError.",
    )

    _catalog: SqlCatalog | None = PrivateAttr(default=None)

    # ---------------------------------------------------------------- connections

    def _url(self) -> URL:
        from sqlalchemy.engine import make_url

        url = make_url(self.catalog_uri)
        if self.catalog_password:
            url = url.set(password=self.catalog_password)
        return url

    def masked_catalog_uri(self) -> str:
        """The catalog URL with the password replaced by ``***``."""
        return self._url().render_as_string(hide_password=True)

    def _warehouse_uri(self) -> str:
        if "://" in self.warehouse:
            return self.warehouse
        folder = Path(self.warehouse).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder.as_uri()

    def _file_io_properties(self) -> dict[str, str]:
        if not self.warehouse.startswith(("s3://", "s3a://")):
            return {}
        properties = {"s3.region": self.region or "us-east-1"}
        endpoint = endpoint_with_scheme(self.endpoint_url, use_ssl=self.use_ssl)
        if endpoint:
            properties["s3.endpoint"] = endpoint
        if self.access_key and self.secret_key:
            properties["s3.access-key-id"] = self.access_key
            properties["s3.secret-access-key"] = self.secret_key
        return properties

    def catalog(self) -> SqlCatalog:
        """The SQL catalog (one per manager instance; its tables are made on first use)."""
        if self._catalog is None:
            from pyiceberg.catalog.sql import SqlCatalog
            from sqlalchemy.exc import DBAPIError

            url = self._url()
            if url.drivername.startswith("sqlite") and url.database:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            properties = {
                "uri": url.render_as_string(hide_password=False),
                "warehouse": self._warehouse_uri(),
                **self._file_io_properties(),
            }
            # Writers opening a new catalog at once race to create its tables; the loser
            # finds them on the next attempt. The loser hears "table ... already exists" from
            # SQLite, DuplicateTable or a duplicate pg_type key from PostgreSQL.
            self._catalog = retry_call(
                lambda: SqlCatalog(self.catalog_name, **properties),
                retry_on=lambda error: (
                    isinstance(error, DBAPIError)
                    and any(clash in str(error) for clash in CATALOG_CREATION_CLASHES)
                ),
                backoff=Backoff(attempts=CATALOG_INIT_ATTEMPTS, initial_seconds=0.05),
            )
        return self._catalog

    def teardown_after_execution(self, context: Any) -> None:
        if self._catalog is not None:
            self._catalog.engine.dispose()

    def client(self, read: ReadOptions | None = None) -> IcebergClient:
        return IcebergClient(
            IcebergSettings(
                catalog=self.catalog,
                catalog_location=self.masked_catalog_uri(),
                warehouse=self.warehouse,
                namespace=self.namespace,
                default_write_mode=self.default_write_mode,
                infer_schema_from_data=self.infer_schema_from_data,
                commit_attempts=self.commit_attempts,
                read=read or ReadOptions(),
            )
        )

    def remove_orphan_files(
        self,
        asset_key: AssetRef,
        *,
        older_than: dt.timedelta = DEFAULT_ORPHAN_AGE,
        dry_run: bool = False,
        definition: Definition | None = None,
    ) -> list[OrphanFile]:
        """Delete the files of the asset's table that nothing of the table references (what a
        killed write or ``expire_snapshots`` leaves), last modified over ``older_than`` ago.

        Returns them (with ``dry_run``, only lists them). Every snapshot still reads as before;
        a write running now keeps its files as long as it is younger than ``older_than``.

        Example::

            for orphan in manager.remove_orphan_files("market/ohlcv", definition=defs):
                print(orphan.uri, orphan.size)
        """
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        context = whole_asset_context(asset_key, definition)
        asset = asset_label(context)
        _meta, table, _selection, _filters = self._store()._target(context, asset)
        try:
            loaded = self.catalog().load_table((table.schema, table.table))
        except (NoSuchTableError, NoSuchNamespaceError) as error:
            raise MissingDataError(
                f"Nothing stored for asset {asset}: table {table.display()} does not exist in "
                f"{self.masked_catalog_uri()}."
            ) from error
        orphans = orphan_files(loaded, older_than=older_than)
        if not dry_run:
            remove_files(loaded, orphans)
        return orphans

    def load_input(self, context: InputContext) -> pl.DataFrame:
        read = read_options(context.definition_metadata or {}, asset=asset_label(context))
        store = TableStore(
            self.client(read), config_schema=self.schema_, schema_evolution=self.schema_evolution
        )
        return store.load_input(context)


def read_options(metadata: Mapping[str, Any], *, asset: str) -> ReadOptions:
    """``snapshot_id``, ``as_of`` and ``iceberg_partition_filter`` of an input's metadata."""
    values = {
        key: value.value if isinstance(value, MetadataValue) else value
        for key, value in metadata.items()
    }
    snapshot_id = values.get(SNAPSHOT_ID_KEY)
    as_of = values.get(AS_OF_KEY)
    row_filter = values.get(ROW_FILTER_KEY)
    if isinstance(snapshot_id, bool) or not isinstance(snapshot_id, int | None):
        raise MetadataError(
            f"Asset {asset}: input metadata {SNAPSHOT_ID_KEY!r} must be an Iceberg snapshot id "
            f"(an int); got {snapshot_id!r}."
        )
    if snapshot_id is not None and as_of is not None:
        raise MetadataError(
            f"Asset {asset}: input metadata sets both {SNAPSHOT_ID_KEY!r} and {AS_OF_KEY!r}; "
            "keep one."
        )
    if isinstance(as_of, str):
        with contextlib.suppress(ValueError):  # refused below, naming the format
            as_of = dt.datetime.fromisoformat(as_of)
    if as_of is not None:
        if not isinstance(as_of, dt.datetime):
            raise MetadataError(
                f"Asset {asset}: input metadata {AS_OF_KEY!r} must be a datetime or ISO text "
                f"such as '2024-01-03T00:00:00+00:00'; got {as_of!r}."
            )
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=dt.UTC)
    if row_filter is not None and (not isinstance(row_filter, str) or not row_filter):
        raise MetadataError(
            f"Asset {asset}: input metadata {ROW_FILTER_KEY!r} must be an Iceberg row filter "
            f"(text); got {row_filter!r}."
        )
    return ReadOptions(snapshot_id=snapshot_id, as_of=as_of, row_filter=row_filter)
