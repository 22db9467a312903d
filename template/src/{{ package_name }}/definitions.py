"""Code location entry point: the Definitions of the environment named by DAGSTER_ENV (default dev).

`dg dev`, `dg check defs` and `dagster dev` find `defs` here through `[tool.dg.project]` and
`[tool.dagster]` in pyproject.toml. Nothing is built at import: Dagster calls `defs()` when it
loads the code location, so importing the package stays cheap and an environment problem (an
unknown DAGSTER_ENV, a missing variable) surfaces as a load error, not an import error.

The environment's Definitions (environments/) are merged with whatever `dg scaffold defs ...`
wrote into defs/, so scaffolded assets, checks and schedules load in every environment.
"""

import importlib
import os
from pathlib import Path

import dagster as dg

from .environments import ENVIRONMENTS

DEFAULT_ENVIRONMENT = "dev"


def load_environment(environment: str | None = None) -> dg.Definitions:
    """The project's own Definitions bound to one environment's resources."""
    environment = environment or os.environ.get("DAGSTER_ENV") or DEFAULT_ENVIRONMENT
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"DAGSTER_ENV={environment!r} is not an environment of this project: "
            f"set it to one of {', '.join(ENVIRONMENTS)} (or unset it for {DEFAULT_ENVIRONMENT})."
        )
    return importlib.import_module(f"{__package__}.environments.{environment}").definitions()


def load_definitions(environment: str | None = None) -> dg.Definitions:
    """Everything the code location serves: the environment's Definitions plus defs/."""
    scaffolded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(load_environment(environment), scaffolded)


@dg.definitions
def defs() -> dg.Definitions:
    return load_definitions()
