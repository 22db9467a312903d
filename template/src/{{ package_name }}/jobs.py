"""Jobs: the whole pipeline for one daily partition."""

import dagster as dg

from .partitions import daily_partitions

daily_market_data_job = dg.define_asset_job(
    name="daily_market_data",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Extract every exchange, then normalize and derive features, for one UTC day.",
)
