"""OpenTelemetry spans around storage operations, carrying the Dagster context.

Only ``opentelemetry-api`` is used: without an SDK configured by the user, every span is a
no-op (nothing is exported, no collector is needed). With one (``opentelemetry-sdk`` and an
exporter set up in the code location), each write and read is a span with the asset key,
partition key(s), run id and step key.

Example::

    with storage_span("IcebergIOManager.write", context):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dagster import DagsterInvariantViolationError

from .context import ContextT, asset_label, output_context_of

TRACER = "dagster.io_managers"


def _known(read: Callable[[], str | None]) -> str | None:
    """A context property, or ``None`` where the context was built without it."""
    try:
        return read()
    except DagsterInvariantViolationError:
        return None


def span_attributes(context: ContextT) -> dict[str, str]:
    """``dagster.*`` attributes of an output or input context (those it knows).

    Example::

        span_attributes(context)
        # {"dagster.asset_key": "market/ohlcv", "dagster.partition_key": "2024-01-02",
        #  "dagster.run_id": "...", "dagster.step_key": "ohlcv"}
    """
    attributes = {"dagster.asset_key": asset_label(context)}
    if context.has_asset_partitions:
        keys = [str(key) for key in context.asset_partition_keys]
        attributes["dagster.partition_key"] = (
            keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"
        )
    output = output_context_of(context)
    if output is not None:
        for name, value in (
            ("dagster.run_id", _known(lambda: output.run_id)),
            ("dagster.step_key", _known(lambda: output.step_key)),
        ):
            if value:
                attributes[name] = value
    return attributes


@contextmanager
def storage_span(name: str, context: ContextT) -> Iterator[None]:
    """A span named ``name`` with the context's attributes; a no-op without an SDK."""
    from opentelemetry import trace

    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(name, attributes=span_attributes(context)):
        yield
