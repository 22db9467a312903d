"""Code location entry point: the Definitions of the environment named by DAGSTER_ENV (default dev).

`dagster dev` finds this module through `[tool.dagster]` in pyproject.toml.
"""

import importlib
import os

import dagster as dg

from .environments import ENVIRONMENTS

DEFAULT_ENVIRONMENT = "dev"


def load_definitions(environment: str | None = None) -> dg.Definitions:
    environment = environment or os.environ.get("DAGSTER_ENV") or DEFAULT_ENVIRONMENT
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"DAGSTER_ENV={environment!r} is not an environment of this project: "
            f"set it to one of {', '.join(ENVIRONMENTS)} (or unset it for {DEFAULT_ENVIRONMENT})."
        )
    return importlib.import_module(f"{__package__}.environments.{environment}").defs


defs = load_definitions()
