"""The daily partitions shared by every asset, and how a backfill of many days is run.

One run for one UTC day costs one day of work. A backfill of a range of days runs as one run
(every asset stores the range as the same days run one by one would), or as runs of at most
`settings.BACKFILL_MAX_DAYS_PER_RUN` days when that is set.
"""

import warnings

import dagster as dg

from .settings import BACKFILL_MAX_DAYS_PER_RUN, PARTITIONS_START_DATE

# Dagster 1.13 marks an asset's `backfill_policy` beta and says so at every import of every asset
# that sets one, in every command. The project relies on it on purpose (one run per backfill,
# docs/assets.md, "A range of days in one run") and its tests pin the behaviour, so that one
# notice is not repeated.
warnings.filterwarnings(
    "ignore", message="Parameter `backfill_policy` of function `asset`", category=dg.BetaWarning
)

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE, timezone="UTC")


def daily_backfill_policy(
    max_days_per_run: int | None = BACKFILL_MAX_DAYS_PER_RUN,
) -> dg.BackfillPolicy:
    """Single run for any range by default; runs of at most `max_days_per_run` days if set.

    Example::

        @dg.asset(partitions_def=daily_partitions, backfill_policy=daily_backfill_policy())
        def my_daily_asset(context: dg.AssetExecutionContext) -> ...: ...
    """
    if max_days_per_run is None:
        return dg.BackfillPolicy.single_run()
    if max_days_per_run < 1:
        raise ValueError(
            f"BACKFILL_MAX_DAYS_PER_RUN must be None (one run per backfill) or at least 1, "
            f"got {max_days_per_run}: fix it in settings.py."
        )
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=max_days_per_run)
