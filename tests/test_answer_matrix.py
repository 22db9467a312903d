"""Any valid answers give a project whose demo runs: each answer set's demo, the table of currency
codes the symbols question refuses, and answer sets drawn at random that must render
ruff-clean with Definitions that load."""

import json
import re
import subprocess
from datetime import date
from typing import Any

import pytest
from conftest import (
    ANSWER_SETS,
    COPIER_CONFIG,
    DEMO_DAYS,
    LATEST_START_DATE,
    Render,
    installed_render,
    render,
    run_uv,
    uv_environment,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

CANDLES_PER_DAY = {"1m": 1440, "5m": 288, "15m": 96, "1h": 24, "4h": 6, "1d": 1}
# Markets the replay recordings hold per exchange, where an answer set names others.
EXPECTED_SYNTHETIC = {
    "unicode_1m_every_exchange": {
        "binance": ["SOL/USDC"],
        "bybit": [],
        "okx": [],
        "kraken": ["SOL/USDC"],
    },
    "earliest_day_5m_unrecorded": {
        "bybit": ["DOGE/BTC", "PEPE/EUR", "LUNA/USD"],
        "kraken": ["DOGE/BTC", "PEPE/EUR", "LUNA/USD"],
    },
    "leap_day_1d": {"okx": ["LINK/BTC", "REP/EUR"], "binance": ["LINK/BTC", "REP/EUR"]},
}


@pytest.mark.parametrize(
    "answer_set",
    [pytest.param(name, marks=pytest.mark.xdist_group(name), id=name) for name in ANSWER_SETS],
)
def test_demo_materializes_a_day(answer_set: str, tmp_path_factory) -> None:
    """The command the README teaches, on each answer set's edge day: every configured symbol
    of every exchange, a whole day of candles, synthesized markets named in the raw JSON."""
    project: Render = installed_render(answer_set, tmp_path_factory)
    day = DEMO_DAYS[answer_set]
    exchanges = project.answers["exchanges"]
    symbols = project.answers["symbols"]
    result = run_uv(
        project.path, "run", "--frozen", "python", "-m", f"{project.package}.demo", "--date", day
    )
    rows = len(exchanges) * len(symbols) * CANDLES_PER_DAY[project.answers["timeframe"]]
    assert f"Materialized {day}" in result.stdout, result.stdout
    assert f"market.ohlcv: {rows} rows on {day}" in result.stdout, result.stdout
    assert f"market.ohlcv_features: {rows} rows on {day}" in result.stdout, result.stdout
    raw = project.path / "data" / "raw"
    for exchange_id in exchanges:
        markets = json.loads(
            (raw / f"{exchange_id}_markets" / f"date={day}" / "data.json").read_text()
        )
        ohlcv = json.loads((raw / f"{exchange_id}_ohlcv" / f"date={day}" / "data.json").read_text())
        listed = {market["symbol"] for market in markets["data"]}
        assert set(symbols) <= listed, exchange_id
        synthetic = EXPECTED_SYNTHETIC.get(answer_set, {}).get(exchange_id, [])
        assert markets["metadata"].get("synthetic_markets", []) == synthetic, exchange_id
        assert ohlcv["metadata"].get("synthetic_markets", []) == synthetic, exchange_id
        assert [entry["symbol"] for entry in ohlcv["data"]] == symbols
        warned = [
            s for s in synthetic if f"{exchange_id} replay: {s} is not in the" in result.stderr
        ]
        assert warned == synthetic, result.stderr[-3000:]


@pytest.mark.xdist_group("defaults")
def test_refused_currency_codes_are_the_ones_ccxt_renames(tmp_path_factory) -> None:
    """copier.yml's ccxt_renamed_codes is what the project's pinned ccxt renames on each
    exchange: codes mapped to another one that no other code maps to."""
    project = installed_render("defaults", tmp_path_factory).path
    script = (
        "import ccxt, json\n"
        "table = {}\n"
        "for name in ('binance', 'bybit', 'okx', 'kraken'):\n"
        "    common = {k.upper(): v for k, v in getattr(ccxt, name)().commonCurrencies.items()}\n"
        "    table[name] = {k: v for k, v in common.items()\n"
        "                   if v != k and k not in common.values()}\n"
        "print(json.dumps(table))\n"
    )
    result = run_uv(project, "run", "--frozen", "python", "-c", script)
    assert json.loads(result.stdout) == COPIER_CONFIG["ccxt_renamed_codes"]["default"]


# ------------------------------------------------------------------------- drawn answer sets

RENAMED = COPIER_CONFIG["ccxt_renamed_codes"]["default"]
EXCHANGES = list(COPIER_CONFIG["exchanges"]["choices"].values())
NAME_WORDS = ["Ünïcode", "Desk", "Crypto", "Straße", "Øre", "Łódź", "Lake", "Δέλτα", "Крипто"]
CODES = ["BTC", "ETH", "SOL", "USDT", "USDC", "EUR", "USD", "DOGE", "LUNA", "REP", "PEPE", "XBT"]


def package_of(name: str) -> str:
    """The package name copier.yml derives from a project name (its transliteration table)."""
    table = COPIER_CONFIG["transliteration"]["default"]
    spelt = "".join(table.get(char, char) for char in name.strip().lower())
    return re.sub(r"[^a-z0-9]+", "-", spelt).strip("-").replace("-", "_")


@st.composite
def valid_answers(draw: st.DrawFn) -> dict[str, Any]:
    exchanges = draw(st.lists(st.sampled_from(EXCHANGES), min_size=1, max_size=4, unique=True))
    code = st.sampled_from(CODES) | st.from_regex(r"[A-Z][A-Z0-9]{1,6}", fullmatch=True)
    pairs = st.tuples(code, code).filter(
        lambda pair: (
            pair[0] != pair[1] and not any(c in RENAMED[e] for c in pair for e in exchanges)
        )
    )
    symbols = draw(
        st.lists(pairs, min_size=1, max_size=4, unique_by=lambda pair: pair[0] + pair[1])
    )
    # A Latin first word: the slug starts with a letter; packages up to 30 characters.
    words = st.lists(st.sampled_from(NAME_WORDS), min_size=0, max_size=4)
    name = draw(
        st.builds(
            lambda first, rest: " ".join([first, *rest]), st.sampled_from(NAME_WORDS[:6]), words
        ).filter(lambda name: len(package_of(name)) <= 30)
    )
    return {
        "project_name": name,
        "description": draw(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=80)),
        "license": draw(st.sampled_from(COPIER_CONFIG["license"]["choices"])),
        "python_version": draw(st.sampled_from(COPIER_CONFIG["python_version"]["choices"])),
        "exchanges": exchanges,
        "symbols": [f"{base}/{quote}" for base, quote in symbols],
        "timeframe": draw(st.sampled_from(COPIER_CONFIG["timeframe"]["choices"])),
        "partitions_start_date": draw(
            st.dates(min_value=date(2010, 1, 1), max_value=LATEST_START_DATE)
        ).isoformat(),
    }


LOAD_DEFINITIONS = """
import json, sys
import dagster as dg
from {package}.definitions import load_definitions
defs = load_definitions("dev")
dg.Definitions.validate_loadable(defs)
keys = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
print(json.dumps(keys))
"""


@pytest.mark.xdist_group("defaults")
@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    # A failing example is reported as drawn: shrinking would render dozens of projects.
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(answers=valid_answers())
def test_drawn_answers_render_lint_clean_and_load(
    answers: dict[str, Any], tmp_path_factory
) -> None:
    """Each drawn answer set is accepted, renders ruff-clean and its Definitions load (with the
    tools of the installed defaults render: no install per example)."""
    tools = installed_render("defaults", tmp_path_factory).path / ".venv" / "bin"
    project = tmp_path_factory.mktemp("drawn") / "project"
    recorded = render(project, answers, skip_tasks=True)
    package = recorded["package_name"]
    env = uv_environment() | {"PYTHONPATH": str(project / "src")}
    for command in (
        ["ruff", "check", "--no-cache", "."],
        ["ruff", "format", "--check", "--no-cache", "."],
    ):
        lint = subprocess.run(
            [str(tools / command[0]), *command[1:]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, f"{answers}\n{lint.stdout}{lint.stderr}"
    loaded = subprocess.run(
        [str(tools / "python"), "-c", LOAD_DEFINITIONS.format(package=package)],
        cwd=project,
        env={k: v for k, v in env.items() if k not in {"DAGSTER_ENV"}},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert loaded.returncode == 0, f"{answers}\n{loaded.stderr[-4000:]}"
    keys = json.loads(loaded.stdout.strip().splitlines()[-1])
    for exchange_id in answers["exchanges"]:
        assert f"raw/{exchange_id}_ohlcv" in keys and f"raw/{exchange_id}_markets" in keys
