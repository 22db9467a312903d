"""Declarative automation: when each asset materializes on its own, and how fresh it must be.

Every asset is daily-partitioned in UTC. Each day, at 00:10 UTC, the extract assets pull the day
that just closed; everything downstream (the transforms, the market graph) follows as soon as its
parents have updated, unless a parent's blocking check failed. The conditions are evaluated by
`automation_sensor`, stopped until someone turns it on; `daily_market_data_schedule` runs the
same day at the same time as one job. Turn on one of the two, never both: each would start its
own run of the same day. docs/automation.md says which to choose.
"""

from datetime import timedelta

import dagster as dg

# A few minutes past midnight UTC, so the exchanges have closed the last candle of the day
# (the same time as daily_market_data_schedule).
DAILY_CRON = "10 0 * * *"
CRON_TIMEZONE = "UTC"

# Extract assets have no parents: a clock starts them. on_cron requests the latest complete
# time window (yesterday's partition at 00:10) once per tick, and never a second time for the
# same tick, however often the sensor evaluates.
EXTRACT_CONDITION = dg.AutomationCondition.on_cron(DAILY_CRON, CRON_TIMEZONE)

DOWNSTREAM_CONDITION = (
    # eager: the latest day only, requested once each time a parent updates (or will update in
    # the same tick, so the tick's extracts, market/ohlcv and the graph share one run); it waits
    # while a parent is missing or in progress and never requests a day that is already running.
    dg.AutomationCondition.eager()
    # ... and never on bad data: every blocking check of every parent (ohlc_consistency and
    # unique_candles on market/ohlcv) passed on the parent's latest materialization. Those
    # checks are declared per asset, not per day, so they never count as requested in the same
    # tick: ohlcv_features waits for their results and runs on a later evaluation.
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager_after_blocking_checks")

# The transforms of a day are due between the 00:10 UTC tick and 01:00 UTC: a run of one day
# takes minutes, so fifty minutes leave room for queued runs and step retries. After 01:00
# without a materialization since 00:10 the asset is late (FAIL) until it materializes.
TRANSFORM_FRESHNESS_DEADLINE_CRON = "0 1 * * *"
TRANSFORM_FRESHNESS_POLICY = dg.FreshnessPolicy.cron(
    deadline_cron=TRANSFORM_FRESHNESS_DEADLINE_CRON,
    lower_bound_delta=timedelta(minutes=50),
    timezone=CRON_TIMEZONE,
)

AUTOMATION_SENSOR_NAME = "daily_market_data_automation"

# One sensor evaluates every condition above. Stopped by default, like the schedule: a new
# project pulls nothing until someone decides to (turn it on in the UI, Automation tab).
automation_sensor = dg.AutomationConditionSensorDefinition(
    AUTOMATION_SENSOR_NAME,
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Extracts the day that just closed at 00:10 UTC, then builds the transforms and the "
        "market graph as their parents update and pass their blocking checks. Turn on this "
        "sensor or daily_market_data_schedule, not both."
    ),
)
