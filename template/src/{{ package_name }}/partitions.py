"""The daily partitions shared by every asset: one run for one UTC day costs one day of work."""

import dagster as dg

from .settings import PARTITIONS_START_DATE

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE, timezone="UTC")
