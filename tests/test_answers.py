"""Questions of copier.yml: derived defaults, and invalid answers refused with clear messages."""

import ast
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE_ROOT, render


def test_names_derive_from_the_project_name(tmp_path: Path) -> None:
    answers = render(tmp_path / "p", {"project_name": "  My Crypto Lake 2 "})
    assert answers["project_slug"] == "my-crypto-lake-2"
    assert answers["package_name"] == "my_crypto_lake_2"
    assert (tmp_path / "p" / "src" / "my_crypto_lake_2" / "definitions.py").is_file()
    assert 'name = "my-crypto-lake-2"' in (tmp_path / "p" / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Ünïcode Desk — Crypto", "unicode-desk-crypto"),
        ("Straße Æther Łódź", "strasse-aether-lodz"),
        ("Крипто Дельта", "kripto-delta"),
        ("Δέλτα Crypto", "delta-crypto"),
    ],
)
def test_non_ascii_names_are_spelt_in_ascii(tmp_path: Path, name: str, slug: str) -> None:
    answers = render(tmp_path / "p", {"project_name": name})
    assert (answers["project_slug"], answers["package_name"]) == (slug, slug.replace("-", "_"))
    assert f'name = "{slug}"' in (tmp_path / "p" / "pyproject.toml").read_text()
    assert (tmp_path / "p" / "README.md").read_text().startswith(f"# {name}\n")
    assert "transliteration" not in answers, "a computed value, not an answer"


def test_a_name_without_ascii_letters_asks_for_a_slug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='project_slug is empty: the project name "比特币" has no'):
        render(tmp_path / "p", {"project_name": "比特币"})
    answers = render(tmp_path / "q", {"project_name": "比特币", "project_slug": "bitcoin-desk"})
    assert answers["package_name"] == "bitcoin_desk"


def test_quotes_and_backslashes_in_free_text_stay_text(tmp_path: Path) -> None:
    import tomllib

    answers = {
        "project_name": 'The "Quoted" Desk',
        "description": 'Candles, "quotes" and C:\\paths',
        "author_name": 'Ann "Quant" O\'Neil',
    }
    render(tmp_path / "p", answers)
    project = tomllib.loads((tmp_path / "p" / "pyproject.toml").read_text())["project"]
    assert project["description"] == answers["description"]
    assert project["authors"][0]["name"] == answers["author_name"]
    init = tmp_path / "p" / "src" / "the_quoted_desk" / "__init__.py"
    assert (
        ast.get_docstring(ast.parse(init.read_text()), clean=False)
        == f"{answers['project_name']}: {answers['description']}"
    )


def test_the_longest_package_name_renders_ruff_clean(tmp_path: Path) -> None:
    """Generated lines naming the package stay within ruff's 100 columns up to 30 characters."""
    package = "a_thirty_character_package_nam"
    assert len(package) == 30
    render(tmp_path / "p", {"package_name": package, "python_version": "3.13"}, skip_tasks=True)
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
            cwd=tmp_path / "p",
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_defaults_match_the_reference_names(tmp_path: Path) -> None:
    answers = render(tmp_path / "p", {})
    assert answers["project_slug"] == "dagster-crypto-data"
    assert answers["package_name"] == "dagster_crypto_data"
    assert answers["exchanges"] == ["binance"]
    assert answers["symbols"] == ["BTC/USDT", "ETH/USDT"]
    assert answers["timeframe"] == "1h"
    assert answers["python_version"] == "3.11"
    assert answers["_src_path"]  # copier update needs to know where the template lives


def test_python_version_reaches_the_project(tmp_path: Path) -> None:
    render(tmp_path / "p", {"python_version": "3.12"})
    pyproject = (tmp_path / "p" / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.12"' in pyproject
    assert 'target-version = "py312"' in pyproject
    assert (tmp_path / "p" / ".python-version").read_text().strip() == "3.12"


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": "   "}, "project_name must not be empty"),
        ({"project_slug": "Bad Slug"}, 'project_slug "Bad Slug" is not kebab-case'),
        ({"project_slug": "double--hyphen"}, "is not kebab-case"),
        ({"project_slug": "2fast"}, 'project_slug "2fast" is not kebab-case'),
        ({"project_slug": "trailing-"}, "is not kebab-case"),
        ({"package_name": "1bad"}, 'package_name "1bad" is not a valid Python package name'),
        ({"package_name": "has-dash"}, "is not a valid Python package name"),
        ({"package_name": "import"}, 'package_name "import" is a Python keyword'),
        ({"package_name": "polars"}, "clashes with a library"),
        ({"package_name": "dagster"}, 'package_name "dagster" is a Python keyword or clashes'),
        ({"package_name": "tests"}, "clashes with a library"),
        ({"package_name": "servers"}, "clashes with a library or a test helper"),
        ({"package_name": "a" * 31}, "has 31 characters: at most 30 keep the generated code"),
        ({"author_email": "nobody"}, 'author_email "nobody" is not an e-mail address'),
        ({"python_version": "2.7"}, "Invalid choice for 'python_version'"),
        ({"license": "GPL-3.0"}, "Invalid choice for 'license'"),
        ({"exchanges": []}, "exchanges must name at least one exchange: choose from binance"),
        ({"exchanges": ["ftx"]}, "Invalid choice for 'exchanges'"),
        ({"symbols": "BTC/USDT"}, "symbols must be a non-empty YAML list"),
        ({"symbols": []}, "symbols must be a non-empty YAML list"),
        ({"symbols": {"BTC": "USDT"}}, "symbols must be a non-empty YAML list"),
        ({"symbols": [42]}, 'symbols entry "42" is not a BASE/QUOTE pair'),
        ({"symbols": ["BTC/USDT/EUR"]}, "is not a BASE/QUOTE pair in upper case"),
        ({"symbols": ["btc-usdt"]}, 'symbols entry "btc-usdt" is not a BASE/QUOTE pair'),
        ({"symbols": ["BTC/USDT", "BTC/USDT"]}, "symbols lists a pair twice"),
        ({"symbols": ["BTC/BTC"]}, 'symbols entry "BTC/BTC" trades BTC against itself'),
        ({"symbols": ["ETH/USDT", "USDT/USDT"]}, "a market needs two different currencies"),
        ({"symbols": ["XBT/USD"]}, 'ccxt names XBT "BTC" on binance, so no market there'),
        (
            {"exchanges": ["okx", "kraken"], "symbols": ["ETH/ZUSD"]},
            'ccxt names ZUSD "USD" on kraken, so no market there is called ETH/ZUSD: write USD',
        ),
        ({"symbols": ["AB/CDE", "ABC/DE"]}, "two pairs that join into the same market id"),
        ({"project_slug": ""}, "project_slug is empty"),
        ({"description": "two\nlines"}, "description must be one line of text"),
        ({"author_name": "tab\there"}, "author_name must be one line of text"),
        ({"author_email": 'a"b@example.com'}, "is not an e-mail address"),
        ({"timeframe": "2h"}, "Invalid choice for 'timeframe'"),
        ({"partitions_start_date": "2024-02-30"}, 'partitions_start_date "2024-02-30" is not'),
        ({"partitions_start_date": "01/02/2024"}, "use YYYY-MM-DD"),
        ({"partitions_start_date": "2009-12-31"}, "on or after 2010-01-01"),
        ({"partitions_start_date": "2023-02-29"}, 'partitions_start_date "2023-02-29" is not'),
        ({"partitions_start_date": "2100-02-29"}, '"2100-02-29" is not a valid ISO date'),
        ({"partitions_start_date": "2024-13-01"}, "use YYYY-MM-DD"),
        ({"partitions_start_date": "2999-01-01"}, '"2999-01-01" is less than 90 days before'),
        ({"exchanges": ["binance", "ftx"]}, "Invalid choice for 'exchanges'"),
    ],
)
def test_invalid_answers_are_refused(tmp_path: Path, answers: dict, message: str) -> None:
    with pytest.raises(ValueError, match="(?s)" + message.replace("(", r"\(").replace(")", r"\)")):
        render(tmp_path / "p", answers)
    assert not (tmp_path / "p" / "pyproject.toml").exists()


def test_the_first_day_is_at_least_90_days_back(tmp_path: Path) -> None:
    # The render whose first day is exactly 90 days back runs its tests in
    # test_generated_projects.py (answer set all_exchanges_15m).
    too_late = (date.today() - timedelta(days=89)).isoformat()
    with pytest.raises(ValueError, match=f'"{too_late}" is less than 90 days before today'):
        render(tmp_path / "p", {"partitions_start_date": too_late})
    latest = (date.today() - timedelta(days=90)).isoformat()
    assert render(tmp_path / "q", {"partitions_start_date": latest})


def test_leap_day_is_a_valid_start_date(tmp_path: Path) -> None:
    answers = render(tmp_path / "p", {"partitions_start_date": "2024-02-29"})
    assert answers["partitions_start_date"] == "2024-02-29"


def test_every_question_has_help_text() -> None:
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    questions = {key: value for key, value in config.items() if not key.startswith("_")}
    assert questions
    assert all(spec.get("help") for spec in questions.values()), questions
