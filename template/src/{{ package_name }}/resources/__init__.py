"""Resources of the project: the ccxt exchange resource (live or replayed)."""

from .exchange import ExchangeResource, ExchangeUnavailableError
from .replay import ReplayError

__all__ = ["ExchangeResource", "ExchangeUnavailableError", "ReplayError"]
