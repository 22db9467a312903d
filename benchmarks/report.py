"""Turn the suite's JSON into docs/performance.md: machine, tables, targets met or missed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXES = Path(__file__).with_name("fixes.md")


@dataclass
class Target:
    label: str
    measured: str
    met: bool | None  # None: could not be measured
    reason: str = ""


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _divide(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _find(section: dict[str, Any] | None, predicate: Callable[[dict[str, Any]], bool]) -> Any:
    if not section:
        return None
    return next((c for c in section["contenders"] if predicate(c)), None)


def _ours(section: dict[str, Any] | None) -> dict[str, Any] | None:
    return _find(section, lambda c: c["role"] == "ours")


def _named(section: dict[str, Any] | None, prefix: str) -> dict[str, Any] | None:
    return _find(section, lambda c: c["name"].startswith(prefix))


def _status(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


# ---------------------------------------------------------------------------- targets


def targets(results: dict[str, Any]) -> list[Target]:
    sections = results.get("sections", {})
    found: list[Target] = []

    duckdb = sections.get("duckdb")
    ours, peer = _ours(duckdb), _named(duckdb, "dagster-duckdb-polars")
    raw = _named(duckdb, "raw duckdb")
    if ours and peer:
        if peer["total_s"] is not None:
            ratio = _divide(ours["total_s"], peer["total_s"])
            found.append(
                Target(
                    "DuckDB write+read no slower than DuckDBPolarsIOManager",
                    f"ours/peer {_ratio(ratio)}",
                    ratio is not None and ratio <= 1.0,
                )
            )
        else:
            ratio = _divide(ours["write_s"], peer["write_s"])
            found.append(
                Target(
                    "DuckDB write+read no slower than DuckDBPolarsIOManager",
                    f"write: ours/peer {_ratio(ratio)}; peer read fails",
                    ratio is not None and ratio <= 1.0,
                    f"the peer cannot read ({peer['read_error']}), so only writes compare",
                )
            )
    if ours and raw:
        ratio = _divide(ours["total_s"], raw["total_s"])
        found.append(
            Target(
                "DuckDB write+read within 1.3x of raw duckdb",
                f"ours/raw {_ratio(ratio)}",
                None if ratio is None else ratio <= 1.3,
            )
        )

    postgres = sections.get("postgres")
    ours, to_sql = _ours(postgres), _named(postgres, "pandas to_sql")
    if ours and to_sql:
        ratio = _divide(to_sql["write_s"], ours["write_s"])
        sampled = " (to_sql scaled from a sample)" if to_sql["extrapolated"] else ""
        found.append(
            Target(
                "PostgreSQL write at least 10x faster than pandas to_sql",
                f"to_sql/ours {_ratio(ratio)}{sampled}",
                None if ratio is None else ratio >= 10,
            )
        )
    copies = [
        c["write_s"]
        for c in (postgres or {}).get("contenders", [])
        if c["name"].startswith("raw COPY") and c["write_s"]
    ]
    if ours and copies:
        ratio = _divide(ours["write_s"], min(copies))
        found.append(
            Target(
                "PostgreSQL write within 1.5x of raw COPY (the faster of csv and binary)",
                f"ours/raw {_ratio(ratio)}",
                None if ratio is None else ratio <= 1.5,
            )
        )

    for key, raw_prefix in (("filesystem", "raw polars write"), ("s3_frames", "raw polars +")):
        section = sections.get(key)
        ours, raw = _ours(section), _named(section, raw_prefix)
        if ours and raw:
            ratio = _divide(ours["total_s"], raw["total_s"])
            durable = _named(section, "raw polars + fsync")
            reason = ""
            if durable:
                # Ours is atomic and durable; the plain raw write is neither.
                same = _ratio(_divide(ours["total_s"], durable["total_s"]))
                reason = f"against raw polars with the same fsync and rename: {same}"
            found.append(
                Target(
                    f"{section['title']}: write+read within 1.2x of raw polars",
                    f"ours/raw {_ratio(ratio)}",
                    None if ratio is None else ratio <= 1.2,
                    reason,
                )
            )

    kuzu = sections.get("kuzu")
    ours, per_row = _ours(kuzu), _named(kuzu, "one CREATE per row")
    if ours and per_row:
        ratio = _divide(per_row["write_s"], ours["write_s"])
        found.append(
            Target(
                "Kuzu write at least 50x faster than one CREATE per row",
                f"per-row/ours {_ratio(ratio)} (per-row scaled from a sample)",
                None if ratio is None else ratio >= 50,
            )
        )
    raw = _named(kuzu, "raw kuzu COPY")
    if ours and raw:
        ratio = _divide(ours["write_s"], raw["write_s"])
        found.append(
            Target(
                "Kuzu write within 1.5x of a raw COPY FROM frame (into a new database file)",
                f"ours/raw {_ratio(ratio)}",
                None if ratio is None else ratio <= 1.5,
            )
        )

    iceberg = sections.get("iceberg")
    ours, raw = _ours(iceberg), _named(iceberg, "raw pyiceberg")
    if ours and raw:
        ratio = _divide(ours["total_s"], raw["total_s"])
        found.append(
            Target(
                "Iceberg write+read within 1.3x of raw pyiceberg",
                f"ours/raw {_ratio(ratio)}",
                None if ratio is None else ratio <= 1.3,
            )
        )

    scaling = results.get("scaling")
    if scaling:
        for name, ratio in scaling["ratios_365_over_1"].items():
            found.append(
                Target(
                    f"{name}: one partition at 365 existing within 1.5x of at 1",
                    f"365/1 {_ratio(ratio)}",
                    None if ratio is None else ratio <= 1.5,
                )
            )

    backfill = results.get("backfill")
    if backfill:
        year = backfill["year"]
        found.append(
            Target(
                f"A year ({year['days']} days, replay) backfills in one command in under 60 s",
                f"{_seconds(year['seconds'])}, one run, peak RSS {year['peak_rss_bytes'] / 2**20:.0f} MiB",
                year["seconds"] < 60,
            )
        )
        found.append(
            Target(
                "Per-day cost inside a year backfill at most 1/50 of a one-day run's",
                f"1/{1 / backfill['per_day_in_year_over_one_day']:.0f}",
                backfill["per_day_in_year_over_one_day"] <= 1 / 50,
            )
        )

    startup = results.get("startup")
    if startup:
        found.append(
            Target(
                "Code location import within 1.5x of a bare `import dagster`",
                f"{_ratio(startup['ratio'])}",
                startup["ratio"] <= 1.5,
            )
        )
    return found


# ---------------------------------------------------------------------------- markdown


def _machine(results: dict[str, Any]) -> list[str]:
    machine = results["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    return [
        "| | |",
        "|---|---|",
        f"| CPU | {machine['cpu']} ({machine['cpu_count']} logical cores) |",
        f"| memory | {machine['memory_gib']} GiB |",
        f"| OS | {machine['os']} |",
        f"| Python | {machine['python']} |",
        f"| packages | {versions} |",
        (
            f"| frame | {results['rows']:,} OHLCV rows, {results['frame_bytes'] / 1e6:.1f} MB in "
            f"memory ({', '.join(f'{k} {v}' for k, v in results['frame_columns'].items())}) |"
        ),
        (
            f"| dict payload | {results['payload_records']:,} Binance klines, "
            f"{results['payload_json_bytes'] / 1e6:.1f} MB as JSON |"
        ),
        f"| repeats | median of {results['repeats']} interleaved rounds after one warm-up round |",
        f"| run time | {results.get('duration_s', 0) / 60:.1f} min |",
    ]


def _section(section: dict[str, Any], frame_bytes: int) -> list[str]:
    ours = _ours(section) or {}
    lines = [
        f"### {section['title']}",
        "",
        (
            "| contender | write | read | write+read | ours ÷ this (write / read / both) "
            "| peak RSS of the write ÷ frame | note |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for contender in section["contenders"]:
        write = _seconds(contender["write_s"])
        if contender["write_error"]:
            write = f"fails: {contender['write_error']}"
        read = _seconds(contender["read_s"])
        if contender["read_error"]:
            read = f"fails: {contender['read_error']}"
        ratios = " / ".join(
            _ratio(_divide(ours.get(field), contender[field]))
            for field in ("write_s", "read_s", "total_s")
        )
        if contender is ours:
            ratios = "(ours)"
        memory = contender.get("memory") or {}
        if "peak_rss_growth_bytes" in memory and section["payload"] == "frame":
            rss = (
                f"{memory['peak_rss_growth_bytes'] / frame_bytes:.2f}x "
                f"({memory['peak_rss_growth_bytes'] / 1e6:.0f} MB)"
            )
        else:
            rss = memory.get("error", "-")
        note = contender["note"]
        if contender["extrapolated"]:
            note = f"**extrapolated**: {note}"
        name = f"**{contender['name']}**" if contender is ours else contender["name"]
        lines.append(
            f"| {name} ({contender['role']}) | {write} | {read} "
            f"| {_seconds(contender['total_s'])} | {ratios} | {rss} | {note} |"
        )
    return [*lines, ""]


def _scaling(scaling: dict[str, Any]) -> list[str]:
    counts = [str(count) for count in scaling["existing"]]
    lines = [
        (
            f"One daily partition of {scaling['rows_per_partition']:,} rows written (overwrite) "
            "and read back, with 1, 30 and 365 partitions already stored (write + read, median):"
        ),
        "",
        "| manager | " + " | ".join(f"{c} existing" for c in counts) + " | 365 ÷ 1 |",
        "|---|" + "---|" * (len(counts) + 1),
    ]
    for name, per_count in scaling["backends"].items():
        cells = [_seconds(per_count.get(c, {}).get("total_s")) for c in counts]
        ratio = _ratio(scaling["ratios_365_over_1"].get(name))
        lines.append(f"| {name} | {' | '.join(cells)} | {ratio} |")
    return [*lines, ""]


def _startup(startup: dict[str, Any]) -> list[str]:
    heavy = ", ".join(startup["heavy_modules_loaded"]) or "none"
    return [
        (
            f"Fresh interpreter, median of {startup['samples']}: `{startup['statement']}` takes "
            f"{_seconds(startup['code_location_s'])}, a bare `import dagster` "
            f"{_seconds(startup['bare_dagster_s'])} (ratio {_ratio(startup['ratio'])}). "
            f"Heavy libraries imported by the code location: {heavy} (checked: "
            f"{', '.join(startup['heavy_modules_checked'])})."
        ),
        "",
    ]


def _backfill(backfill: dict[str, Any]) -> list[str]:
    year, day, daemon = backfill["year"], backfill["one_day"], backfill["daemon"]
    mib = 2**20
    return [
        (
            "The default project in replay mode, each path in a fresh instance (deploy/dev/"
            "dagster.yaml) and data directory: `dg launch --job daily_market_data "
            "--partition-range A...B` (every asset has a single-run backfill policy), the same "
            "for one day (`--partition`), and a job backfill through `dagster-daemon`, which "
            "queues one run per day, each with its own processes."
        ),
        "",
        "| path | days | runs | wall time | per day | peak RSS (largest process) |",
        "|---|---|---|---|---|---|",
        (
            f"| one run, a year | {year['days']} | 1 | {_seconds(year['seconds'])} | "
            f"{_seconds(backfill['per_day_in_year_s'])} | {year['peak_rss_bytes'] / mib:.0f} MiB |"
        ),
        (
            f"| one run, one day | 1 | 1 | {_seconds(day['seconds'])} | "
            f"{_seconds(day['seconds'])} | {day['peak_rss_bytes'] / mib:.0f} MiB |"
        ),
        (
            f"| daemon, one run per day | {daemon['days']} | {daemon['runs']} | "
            f"{_seconds(daemon['seconds'])} | {_seconds(daemon['seconds'] / daemon['days'])} | |"
        ),
        "",
        (
            f"Per-day cost: inside the year run {_ratio(backfill['per_day_in_year_over_one_day'])} "
            f"of a one-day run; through the daemon {_ratio(backfill['per_day_daemon_over_one_day'])}"
            f" of it. The whole year takes {_ratio(backfill['year_over_daemon_per_day'])} the "
            "time of one day through the daemon."
        ),
        "",
        *_event_log(backfill.get("event_log")),
    ]


def _event_log(event_log: dict[str, Any] | None) -> list[str]:
    if not event_log:
        return []
    return [
        (
            "A backfill records two asset events per asset and day (planned before the first "
            "step, then materialized). Storing them, "
            f"{event_log['events_per_round']:,} planned events per round, median of "
            f"{event_log['rounds']} interleaved rounds: Dagster's `SqliteEventLogStorage` "
            f"{event_log['dagster_ms_per_event']:.2f} ms per event, the dev instance's "
            f"`PooledSqliteEventLogStorage` (same files, connections kept open) "
            f"{event_log['ours_ms_per_event']:.2f} ms: Dagster's/ours "
            f"{_ratio(event_log['dagster_over_ours'])}."
        ),
        "",
    ]


def render_markdown(results: dict[str, Any]) -> str:
    date = dt.date.today().isoformat()
    lines = [
        "# Performance",
        "",
        (
            f"Produced by `make bench` on {date} (see [benchmarks](#how-to-reproduce)); the "
            "numbers below are that run's, machine and versions included. Every figure that "
            "matters is a ratio between contenders measured in the same run, in one process "
            "tree, with repeats interleaved (one round runs every contender once), so load from "
            "other work on the machine hits them alike. Absolute times only say how big the "
            "work was on this machine."
        ),
        "",
        "## Machine and data",
        "",
        *_machine(results),
        "",
        "## Targets",
        "",
        "| target | measured | status | note |",
        "|---|---|---|---|",
    ]
    for target in targets(results):
        lines.append(
            f"| {target.label} | {target.measured} | {_status(target.met)} | {target.reason} |"
        )
    lines += [
        "",
        "## Results",
        "",
        (
            "Roles: **ours** is the generated IO manager; a **peer** is another way people store "
            "the same data (Dagster's integrations, pandas, row-by-row inserts); **raw** is the "
            "physical reference, the same storage call written by hand with no manager around "
            "it. *ours ÷ this* below 1 means ours is faster. Peak RSS: growth of the resident "
            "set during one write in a fresh process, relative to the frame's in-memory size. "
            "Rows marked extrapolated ran on a capped sample and were scaled linearly."
        ),
        "",
    ]
    for section in results.get("sections", {}).values():
        lines += _section(section, results["frame_bytes"])
    if results.get("scaling"):
        lines += ["## Scaling with history", "", *_scaling(results["scaling"])]
    if results.get("backfill"):
        lines += ["## Backfills", "", *_backfill(results["backfill"])]
    if results.get("startup"):
        lines += ["## Start-up", "", *_startup(results["startup"])]
    if FIXES.exists():
        lines += [FIXES.read_text().strip(), ""]
    lines += [
        "## How to reproduce",
        "",
        "```bash",
        "make bench                                   # 1,000,000 rows, 5 repeats",
        "make bench BENCH_ROWS=100000 BENCH_REPEATS=3 # quicker",
        "```",
        "",
        (
            "`make bench` renders the default project into `build/bench/`, installs it, adds the "
            "peers for the run only (`uv run --with ...`; they never become dependencies of the "
            "generated project), starts a local SeaweedFS and an embedded PostgreSQL through the "
            "project's own test helpers, runs `benchmarks/suite.py`, and writes "
            "`benchmarks/results.json` and this page. The suite lives in `benchmarks/`: one "
            "module per kind of store (`tables.py`, `objects.py`, `graph.py`), `scaling.py`, "
            "`backfill.py`, `startup.py`, the peak-memory probe `memory.py`, and `report.py` for this page."
        ),
        "",
    ]
    return "\n".join(lines)


def write_report(results: dict[str, Any], markdown: Path) -> None:
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text(render_markdown(results))
