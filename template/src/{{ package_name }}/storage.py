"""Ask the store of an asset what it holds, or delete one day of it, from the command line.

Run from the project directory (the environment's `.env` is read as `dg dev` reads it)::

    uv run python -m <package>.storage describe market/ohlcv --partition 2024-01-02
    uv run python -m <package>.storage exists raw/binance_ohlcv --partition 2024-01-02
    uv run python -m <package>.storage delete market/ohlcv --partition 2024-01-02 --env dev
    uv run python -m <package>.storage remove-orphans market/ohlcv --older-than-hours 72 --dry-run

The asset's IO manager is the one its environment binds to the asset's `io_manager_key`; its
storage metadata and partitions come from the asset's definition. `describe` prints JSON,
`exists` prints yes or no (exit status 0 or 1), `delete` removes that day only (one
transaction), or the whole asset when it is unpartitioned; deleting what is not stored is a
no-op. `remove-orphans` (Iceberg tables only) deletes the files of the asset's table that no
snapshot references and that are older than `--older-than-hours` (what a killed write leaves);
`--dry-run` lists them only. Errors (an unknown asset, a partition the asset does not have)
exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

COMMANDS = ("describe", "exists", "delete", "remove-orphans")


def storage_of(asset: str, environment: str | None = None) -> tuple[Any, Any, Any]:
    """The IO manager storing ``asset`` in ``environment``, the asset's key and Definitions."""
    import dagster as dg

    from .definitions import load_definitions
    from .io_managers.core.errors import MetadataError
    from .io_managers.core.storage import asset_key_of

    defs = load_definitions(environment)
    key = asset_key_of(asset)
    graph = defs.resolve_asset_graph()
    if not graph.has(key):
        known = ", ".join(sorted(k.to_user_string() for k in graph.get_all_asset_keys()))
        raise MetadataError(f"No asset {asset} in this project. Known assets: {known}.")
    io_key = defs.resolve_assets_def(key).get_io_manager_key_for_asset_key(key)
    resources = defs.resources or {}
    if io_key not in resources:
        raise MetadataError(f"Asset {asset} names IO manager {io_key!r}, which is not bound.")
    with dg.build_resources({io_key: resources[io_key]}) as built:
        manager = getattr(built, io_key)
    return manager, key, defs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("asset", help="asset key, e.g. market/ohlcv")
    parser.add_argument("--partition", help="partition key (a day, YYYY-MM-DD)")
    parser.add_argument("--env", help="dev, staging or prod (default: DAGSTER_ENV, else dev)")
    parser.add_argument(
        "--older-than-hours",
        type=float,
        default=72.0,
        help="remove-orphans: only files last modified this long ago (default 72), so a write "
        "still running keeps its files",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="remove-orphans: list the files, delete nothing"
    )
    args = parser.parse_args(argv)

    values = dotenv_values(Path.cwd() / ".env")
    os.environ.update({name: value for name, value in values.items() if value is not None})

    from .io_managers.core.errors import IOManagerError

    try:
        manager, key, defs = storage_of(args.asset, args.env)
        if args.command == "describe":
            info = manager.describe(key, args.partition, definition=defs)
            print(json.dumps(info.as_dict(), indent=2))
        elif args.command == "remove-orphans":
            return remove_orphans(manager, key, defs, args)
        elif args.command == "exists":
            found = manager.exists(key, args.partition, definition=defs)
            print("yes" if found else "no")
            return 0 if found else 1
        else:
            manager.delete(key, args.partition, definition=defs)
            what = f"partition {args.partition} of " if args.partition else ""
            print(f"Deleted {what}{args.asset} (if it was stored).")
    except (IOManagerError, ValueError) as error:
        message = error.description if isinstance(error, IOManagerError) else str(error)
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


def remove_orphans(manager: Any, key: Any, defs: Any, args: argparse.Namespace) -> int:
    """The ``remove-orphans`` command: list, then (unless ``--dry-run``) delete the orphans."""
    import datetime as dt

    if not hasattr(manager, "remove_orphan_files"):
        raise ValueError(
            f"remove-orphans applies to assets stored as Iceberg tables; {args.asset} is "
            f"stored by {type(manager).__name__} here (TRANSFORM_STORE=iceberg binds Iceberg)."
        )
    if args.partition:
        raise ValueError("remove-orphans works on the asset's whole table: drop --partition.")
    if args.older_than_hours < 0:
        raise ValueError(f"--older-than-hours must be 0 or more, got {args.older_than_hours}.")
    orphans = manager.remove_orphan_files(
        key,
        older_than=dt.timedelta(hours=args.older_than_hours),
        dry_run=args.dry_run,
        definition=defs,
    )
    for orphan in orphans:
        print(f"{orphan.uri}\t{orphan.size}")
    done = "Would remove" if args.dry_run else "Removed"
    size_mb = sum(orphan.size for orphan in orphans) / 1e6
    files = f"{len(orphans)} file" + ("" if len(orphans) == 1 else "s")
    print(
        f"{done} {files} ({size_mb:.1f} MB) of {args.asset} that no snapshot references, last "
        f"modified over {args.older_than_hours:g} h ago."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
