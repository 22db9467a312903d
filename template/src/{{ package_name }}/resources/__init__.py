"""Resources of the project: the ccxt exchange resource (live or replayed), graph queries and
warehouse (DuckDB) queries."""

from ..replay import ReplayError
from .exchange import ExchangeResource, ExchangeUnavailableError
from .graph import GraphQueryResource
from .warehouse import DuckDBQueryResource

__all__ = [
    "DuckDBQueryResource",
    "ExchangeResource",
    "ExchangeUnavailableError",
    "GraphQueryResource",
    "ReplayError",
]
