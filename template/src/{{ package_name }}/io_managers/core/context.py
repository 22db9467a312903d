"""The context of an output or input: what it is called in messages, where it came from."""

from __future__ import annotations

from dagster import InputContext, OutputContext

ContextT = InputContext | OutputContext


def output_context_of(context: ContextT) -> OutputContext | None:
    """The output that produced the data: the context itself, or the upstream output."""
    if isinstance(context, OutputContext):
        return context
    return context.upstream_output


def asset_label(context: ContextT) -> str:
    """A readable name of what is stored, for messages: 'raw/binance_ohlcv' or 'step.output'."""
    if context.has_asset_key:
        return context.asset_key.to_user_string()
    output = output_context_of(context)
    if output is not None and output.step_key:
        return f"{output.step_key}.{output.name}"
    return context.name or "<unnamed output>"


def materialize_hint(asset: str, partition_key: str | None = None) -> str:
    """How to produce missing upstream data, for 'not found' errors."""
    partition = f" --partition {partition_key}" if partition_key is not None else ""
    return (
        f"Materialize the upstream first, e.g. `uv run dg launch --assets {asset}{partition}` "
        "or in the UI (`uv run dg dev`)."
    )
