"""template/docs/reliability.md (shipped in every render) stays in sync with the generated project's reliability tests.

Fast, no render: the test functions are read from the template's tests/*.jinja sources.
"""

import re
from pathlib import Path

from conftest import TEMPLATE_ROOT

DOC = TEMPLATE_ROOT / "template" / "docs" / "reliability.md"
TESTS = TEMPLATE_ROOT / "template" / "tests"
# The generated project's reliability tests: every test function in them has a row in the doc.
RELIABILITY_MODULES = (
    "test_exchange_faults",
    "test_io_faults",
    "test_io_bad_inputs",
    "test_io_round_trips",
    "test_io_secrets",
)
TEST_FUNCTION = re.compile(r"^(?:async )?def (test_\w+)\(", re.MULTILINE)


def defined_tests(path: Path) -> set[str]:
    return set(TEST_FUNCTION.findall(path.read_text()))


def named_in_doc() -> set[str]:
    """Test functions the doc's table rows name (in backticks, in any column)."""
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("|")]
    return set(re.findall(r"`(test_\w+)`", "\n".join(rows)))


def test_every_test_the_doc_names_exists() -> None:
    everything = set().union(*(defined_tests(path) for path in TESTS.glob("test_*.py.jinja")))
    missing = sorted(named_in_doc() - everything)
    assert not missing, f"template/docs/reliability.md names tests that do not exist: {missing}"


def test_every_reliability_test_has_a_row() -> None:
    modules = {name: TESTS / f"{name}.py.jinja" for name in RELIABILITY_MODULES}
    absent = [name for name, path in modules.items() if not path.is_file()]
    assert not absent, f"reliability test modules are gone: {absent}"
    reliability_tests = set().union(*(defined_tests(path) for path in modules.values()))
    unlisted = sorted(reliability_tests - named_in_doc())
    assert not unlisted, f"add a row to template/docs/reliability.md for: {unlisted}"


def test_the_doc_names_its_test_modules() -> None:
    text = DOC.read_text()
    for name in RELIABILITY_MODULES:
        assert f"tests/{name}.py" in text, name
    assert not (TEMPLATE_ROOT / "template" / "docs" / "reliability-faults.md").exists(), (
        "merge template/docs/reliability-faults.md into template/docs/reliability.md"
    )
