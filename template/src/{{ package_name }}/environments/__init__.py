"""One Definitions module per environment; they differ only in the resources they bind.

Asset code names IO manager keys, never backends; an environment binds every key below.
Environment modules never import one another: what several of them bind is built in shared.py.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from ..assets import extract_assets, graph_assets, transform_assets
from ..automation import automation_sensor
from ..catalog import with_code_references
from ..jobs import daily_market_data_job
from ..schedules import daily_market_data_schedule

ENVIRONMENTS = ("dev", "staging", "prod")

# "io_manager": Dagster's default key, for every asset that names no io_manager_key (one a user
# adds, for example): bound to the environment's file store, so nothing is pickled into
# DAGSTER_HOME. "graph": the graph query resource the graph checks ask (same file as
# graph_io_manager).
RESOURCE_KEYS = (
    "exchange",
    "io_manager",
    "extract_io_manager",
    "transform_io_manager",
    "graph_io_manager",
    "graph",
)


def build_definitions(resources: Mapping[str, Any]) -> dg.Definitions:
    """The project's assets, checks, job and schedule bound to one environment's resources."""
    missing = sorted(set(RESOURCE_KEYS) - set(resources))
    if missing:
        raise ValueError(f"An environment must bind the resource keys {missing}.")
    return dg.Definitions(
        # Every asset links to its source code (on the git remote when there is one).
        assets=with_code_references([*extract_assets, *transform_assets, *graph_assets]),
        jobs=[daily_market_data_job],
        schedules=[daily_market_data_schedule],
        sensors=[automation_sensor],
        resources=dict(resources),
    )
