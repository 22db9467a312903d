"""Frames rendered as markdown tables for Dagster metadata (previews, check examples)."""

import polars as pl


def markdown_table(frame: pl.DataFrame) -> str:
    """The whole frame as a markdown table: callers pass the rows they want shown."""
    with pl.Config(
        tbl_formatting="MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=frame.height,
        tbl_cols=frame.width,
        fmt_str_lengths=80,
        tbl_width_chars=-1,  # a markdown row never wraps onto a second line
    ):
        return str(frame)
