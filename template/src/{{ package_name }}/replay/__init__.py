"""Replay mode: ccxt's real request building and parsing on locally served native payloads.

- `transport.py`: the ReplayTransport (URL path -> handler) and the ccxt client whose
  `fetch()` it answers.
- `binance.py`, `bybit.py`, `okx.py`, `kraken.py`: each exchange's wire format.
- `generator.py`: the seeded, deterministic candle generator.
- `faults.py`: network errors, rate limits, downtime and truncated days, injected on demand.
- `samples/`: recorded markets payloads in each exchange's native format (package data).
- `record.py`: refresh a markets sample from the live API.

Nothing here imports ccxt at import time.
"""

from .base import REPLAY_TIMEFRAMES, ReplayError, Request, Response
from .faults import FAULTS_ENV_VAR, FaultPlan, FaultPlanError
from .transport import (
    SUPPORTED_EXCHANGES,
    WIRE_FORMATS,
    ReplayTransport,
    check_exchange,
    replay_class,
    replay_client,
    transport_of,
)

__all__ = [
    "FAULTS_ENV_VAR",
    "REPLAY_TIMEFRAMES",
    "SUPPORTED_EXCHANGES",
    "WIRE_FORMATS",
    "FaultPlan",
    "FaultPlanError",
    "ReplayError",
    "ReplayTransport",
    "Request",
    "Response",
    "check_exchange",
    "replay_class",
    "replay_client",
    "transport_of",
]
