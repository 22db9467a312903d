"""Resources of the project: the ccxt exchange resource (live or replayed)."""

from ..replay import ReplayError
from .exchange import ExchangeResource, ExchangeUnavailableError

__all__ = ["ExchangeResource", "ExchangeUnavailableError", "ReplayError"]
