"""What the UI shows of a day of candles: a chart per symbol and the numbers its Plots tab draws.

`price_chart_png` draws one symbol's day: close and session VWAP per exchange above, volume
below, as a small PNG (a few tens of kB). It is deterministic: the same frame gives the same
bytes (fixed size and resolution, no timestamp or software name in the file), so tests can
compare charts byte for byte. matplotlib is imported inside it, with its Agg renderer (no
display, browser or network), so loading the code location never pays for the import.

`chart_metadata` embeds the charts in markdown metadata (the UI shows them under "Show
Markdown" on the materialization); `trend_metadata` gives the numbers per day that the asset's
Plots tab draws across partitions: return and realized volatility per exchange and symbol,
candles and missing candles.
"""

import base64
import io
import math
from collections.abc import Sequence
from datetime import datetime

import dagster as dg
import polars as pl

# Size of a chart: 640 x 360 pixels.
CHART_SIZE_INCHES = (8.0, 4.5)
CHART_DPI = 80
# One color per exchange, in the order of the configuration (colorblind-safe palette).
EXCHANGE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


def price_chart_png(
    features: pl.DataFrame, symbol: str, window_start: datetime, title: str
) -> bytes:
    """One symbol's candles as a PNG: close (solid) and VWAP (dashed) per exchange, volume below.

    `features` has the columns of the features table (exchange, ts, close, vwap, volume); the
    x axis is hours since `window_start` (UTC).
    """
    # Imported here: only a run that draws pays for matplotlib (about half a second).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = features.filter(pl.col("symbol") == symbol).sort("exchange", "ts")
    exchanges = rows["exchange"].unique(maintain_order=True).to_list()
    figure = Figure(figsize=CHART_SIZE_INCHES, dpi=CHART_DPI)
    FigureCanvasAgg(figure)
    price, volume = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.08}
    )
    candle_hours = _candle_hours(rows)
    for position, exchange in enumerate(exchanges):
        series = rows.filter(pl.col("exchange") == exchange)
        hours = ((series["ts"] - window_start).dt.total_seconds() / 3600).to_list()
        color = EXCHANGE_COLORS[position % len(EXCHANGE_COLORS)]
        price.plot(hours, series["close"].to_list(), color=color, linewidth=1.4, label=exchange)
        price.plot(
            hours,
            series["vwap"].to_list(),
            color=color,
            linewidth=1.0,
            linestyle="--",
            label=f"{exchange} VWAP",
        )
        # One filled step outline per exchange: as cheap for 1,440 candles as for 24 bars.
        volumes = series["volume"].to_list()
        if hours:
            volume.fill_between(
                [*hours, hours[-1] + candle_hours],
                [*volumes, volumes[-1]],
                step="post",
                color=color,
                alpha=0.45,
                linewidth=0,
            )
    price.set_title(title, fontsize=11)
    price.set_ylabel("price")
    price.grid(alpha=0.3)
    if exchanges:
        price.legend(loc="best", fontsize=8, ncols=2, frameon=False)
    volume.set_ylabel("volume")
    volume.set_ylim(bottom=0)
    volume.set_xlabel("hour (UTC)")
    volume.grid(alpha=0.3)
    figure.subplots_adjust(left=0.1, right=0.98, top=0.92, bottom=0.12)
    buffer = io.BytesIO()
    # "Software": None leaves matplotlib's version out, so the bytes depend on the data only.
    figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _candle_hours(rows: pl.DataFrame) -> float:
    """The spacing of the candles in hours (1 for a single candle)."""
    steps = rows.select(pl.col("ts").diff().over("exchange").dt.total_seconds().min()).item()
    return steps / 3600 if steps else 1.0


def markdown_image(png: bytes, alt: str) -> dg.MetadataValue:
    """A PNG as markdown metadata: the UI decodes the data URI and shows the image."""
    encoded = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def chart_metadata(
    features: pl.DataFrame, symbols: Sequence[str], window_start: datetime, label: str
) -> dict[str, dg.MetadataValue]:
    """`chart <symbol>`: one chart per configured symbol of a day, as markdown metadata."""
    return {
        f"chart {symbol}": markdown_image(
            price_chart_png(features, symbol, window_start, f"{symbol} {label}"),
            f"{symbol} {label}",
        )
        for symbol in symbols
    }


def series_stats(ohlcv: pl.DataFrame) -> pl.DataFrame:
    """Per exchange and symbol: candles, return (first open to last close) and realized
    volatility (square root of the summed squared log returns between consecutive closes)."""
    log_return = (pl.col("close") / pl.col("close").shift(1)).log()
    return (
        ohlcv.sort("exchange", "symbol", "ts")
        .group_by("exchange", "symbol", maintain_order=True)
        .agg(
            candles=pl.len(),
            period_return=pl.col("close").last() / pl.col("open").first() - 1,
            realized_volatility=log_return.pow(2).sum().sqrt(),
        )
    )


def trend_metadata(ohlcv: pl.DataFrame, expected_candles: int) -> dict[str, float | int]:
    """Numbers per materialization for the Plots tab: `candles`, `missing_candles`, and per
    exchange and symbol `return <exchange> <symbol>` and `volatility <exchange> <symbol>`.

    A value that cannot be computed (no candle) is left out rather than written as NaN.
    """
    metadata: dict[str, float | int] = {
        "candles": ohlcv.height,
        "missing_candles": max(expected_candles - ohlcv.height, 0),
    }
    for row in series_stats(ohlcv).iter_rows(named=True):
        series = f"{row['exchange']} {row['symbol']}"
        for name, value in (
            ("return", row["period_return"]),
            ("volatility", row["realized_volatility"]),
        ):
            if value is not None and math.isfinite(value):
                metadata[f"{name} {series}"] = float(value)
    return metadata
