"""Shared fixtures of the project's test suite."""

from collections.abc import Iterator
from pathlib import Path

import pytest

# Fixtures and helpers that run the same inputs through every IO manager (tests/stores.py).
pytest_plugins = ("stores",)


@pytest.fixture(autouse=True, scope="session")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throwaway DAGSTER_HOME with telemetry off, and replayed exchanges (staging and prod
    would extract live data with EXCHANGE_MODE unset), so tests never leave the machine."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        patch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")
        patch.setenv("EXCHANGE_MODE", "replay")
        yield home
