"""Resources of the project: the ccxt exchange resource (live or replayed) and graph queries."""

from ..replay import ReplayError
from .exchange import ExchangeResource, ExchangeUnavailableError
from .graph import GraphQueryResource

__all__ = ["ExchangeResource", "ExchangeUnavailableError", "GraphQueryResource", "ReplayError"]
