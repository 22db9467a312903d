"""Jobs: the whole pipeline for one daily partition (inferred from the selected assets)."""

import dagster as dg

daily_market_data_job = dg.define_asset_job(
    name="daily_market_data",
    selection=dg.AssetSelection.all(),
    description="Extract every exchange, then normalize and derive features, for one UTC day.",
)
