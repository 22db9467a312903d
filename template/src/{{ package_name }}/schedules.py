"""Schedules: each day, shortly after midnight UTC, materialize the day that just closed."""

import dagster as dg

from .jobs import daily_market_data_job

# A few minutes past midnight, so the exchanges have closed the last candle of the day.
daily_market_data_schedule = dg.build_schedule_from_partitioned_job(
    daily_market_data_job,
    hour_of_day=0,
    minute_of_hour=10,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
