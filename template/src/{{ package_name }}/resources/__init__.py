"""Resources of the project: the ccxt exchange resource (live or replayed) and graph queries."""

from .exchange import ExchangeResource, ExchangeUnavailableError
from .graph import GraphQueryResource
from .replay import ReplayError

__all__ = ["ExchangeResource", "ExchangeUnavailableError", "GraphQueryResource", "ReplayError"]
