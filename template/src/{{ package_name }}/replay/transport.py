"""The replay transport: ccxt's HTTP layer answered locally, in each exchange's wire format.

ccxt sends every REST call of a sync exchange through `Exchange.fetch(url, method, headers,
body)`, which returns the decoded JSON. A replay client is the real ccxt exchange class with
only that method (and the rate-limit sleep) replaced, so ccxt's own request building
(`sign()`, parameters, pagination options) and response parsing (`parse_market`,
`parse_ohlcv`, error handling) run unchanged on native payloads.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlsplit

from .base import ReplayError, Request, Response, WireFormat, now_ms
from .binance import BinanceWire
from .bybit import BybitWire
from .faults import FaultInjector, FaultPlan, fault_response
from .kraken import KrakenWire
from .okx import OkxWire

if TYPE_CHECKING:
    import ccxt
    from ccxt.base.types import ConstructorArgs

# Where the wire formats live, for messages: e.g. dagster_crypto_data/replay.
PACKAGE_PATH = __name__.rpartition(".")[0].replace(".", "/")

WIRE_FORMATS: dict[str, type[WireFormat]] = {
    wire.exchange_id: wire for wire in (BinanceWire, BybitWire, OkxWire, KrakenWire)
}
SUPPORTED_EXCHANGES: tuple[str, ...] = tuple(sorted(WIRE_FORMATS))


def check_exchange(exchange_id: str) -> str:
    if exchange_id not in WIRE_FORMATS:
        raise ValueError(
            f"Exchange {exchange_id!r} has no replay recordings. Replay mode supports: "
            f"{', '.join(SUPPORTED_EXCHANGES)}. Use one of those, add a wire format for it "
            "(see docs/exchange.md), or run with EXCHANGE_MODE=live."
        )
    return exchange_id


class InjectedNetworkFault(ConnectionError):
    """An injected network fault: the request got no answer (`kind`: network or timeout).

    A replay client turns it into ccxt's NetworkError or RequestTimeout.

    Example::

        transport = ReplayTransport("okx", faults="timeout=1")
        transport.respond("GET", url)  # raises InjectedNetworkFault; error.kind == "timeout"
    """

    def __init__(self, kind: str, request: str) -> None:
        super().__init__(f"injected {kind} fault on {request}")
        self.kind = kind


class ReplayTransport:
    """Answers one exchange's REST requests from recordings and the seeded generator.

    Requests are routed by URL path (the host is ignored, so the same transport can sit behind
    a loopback HTTP server); the query string carries the parameters. A path without a route
    raises ReplayError naming the URL: when a ccxt upgrade changes endpoints, replay fails
    loudly instead of returning something made up.

    `faults` (a FaultPlan or its text, see faults.py) makes requests fail the way a flaky
    network or exchange does, in a fixed order, so retries can be tested deterministically.

    `symbols` are served even when the recording does not list them: their markets are
    synthesized in the exchange's format (`wire.synthetic_symbols` names them).

    Example::

        transport = ReplayTransport("binance", seed=0, faults="rate_limit=1")
        url = "https://api.binance.com/api/v3/exchangeInfo"
        transport.respond("GET", url).status  # 429: the injected rate-limit answer
        transport.respond("GET", url).payload["symbols"]  # the recorded markets
        transport.requests[-1].path  # "/api/v3/exchangeInfo"
        ReplayTransport("binance", symbols=["SOL/USDC"]).wire.synthetic_symbols  # ["SOL/USDC"]
    """

    def __init__(
        self,
        exchange_id: str,
        seed: int = 0,
        clock: Callable[[], int] = now_ms,
        faults: FaultPlan | str | None = None,
        symbols: Sequence[str] = (),
    ) -> None:
        self.exchange_id = check_exchange(exchange_id)
        self.wire = WIRE_FORMATS[exchange_id](seed=seed, clock=clock, symbols=symbols)
        self._routes = self.wire.routes()
        plan = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults)
        self.faults = FaultInjector(plan)
        if plan.truncate_at_ms is not None:
            self.wire.candle_missing = self.faults.candle_missing
        # The latest requests, for tests and debugging.
        self.requests: deque[Request] = deque(maxlen=10_000)

    @property
    def endpoints(self) -> list[str]:
        return sorted(self._routes)

    def respond(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> Response:
        parts = urlsplit(url)
        request = Request(
            method=method.upper(),
            url=url,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            body=body,
        )
        self.requests.append(request)
        fault = self.faults.next_fault()
        if fault in ("network", "timeout"):
            raise InjectedNetworkFault(fault, f"{request.method} {url}")
        if fault is not None:
            return fault_response(fault, self.exchange_id)
        handler = self._routes.get(request.path)
        if handler is None or request.method != "GET":
            raise ReplayError(
                f"Replay has no recording for {request.method} {url} ({self.exchange_id}). "
                f"Recorded endpoints: {', '.join('GET ' + path for path in self.endpoints)}. "
                "If ccxt changed which endpoint it calls (after an upgrade), add a route to "
                f"{PACKAGE_PATH}/{self.exchange_id}.py, or run with "
                "EXCHANGE_MODE=live."
            )
        return handler(request)


def _replay_fetch(
    self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None
) -> Any:
    """Exchange.fetch, answered by the replay transport instead of the network.

    Mirrors ccxt's own fetch after the HTTP round trip: JSON text -> parse_json ->
    handle_errors (the exchange's error codes) -> HTTP status mapping for 4xx/5xx.
    """
    import ccxt

    try:
        response: Response = self.replay_transport.respond(method, url, headers, body)
    except InjectedNetworkFault as fault:
        # What ccxt's own fetch raises for a timeout or a reset connection.
        details = " ".join([self.id, method, url])
        if fault.kind == "timeout":
            raise ccxt.RequestTimeout(details) from fault
        raise ccxt.NetworkError(details) from fault
    if response.text is not None:
        text = response.text
        content_type = "text/html" if text.startswith("<") else "text/plain"
    else:
        text = json.dumps(response.payload, separators=(",", ":"))
        content_type = "application/json"
    data = self.parse_json(text)
    response_headers = {"Content-Type": content_type}
    if self.enableLastHttpResponse:
        self.last_http_response = text
    if self.enableLastJsonResponse:
        self.last_json_response = data
    if self.enableLastResponseHeaders:
        self.last_response_headers = response_headers
    status, reason = response.status, response.reason
    if status >= 400:
        skip = self.handle_errors(
            status, reason, url, method, response_headers, text, data, headers, body
        )
        if not skip:
            self.handle_http_status_code(status, reason, url, method, text)
        raise ccxt.ExchangeError(f"{self.id} {method} {url}")
    self.handle_errors(status, reason, url, method, response_headers, text, data, headers, body)
    return data


def _no_throttle(self: Any, cost: Any = None) -> None:
    """Nothing to rate-limit: replayed requests never reach the exchange."""


def transport_of(client: Any) -> ReplayTransport:
    """The ReplayTransport answering the requests of a client made by `replay_client`."""
    transport = vars(client).get("replay_transport")
    if not isinstance(transport, ReplayTransport):
        raise TypeError(f"{type(client).__name__} is not a replay client (no replay transport)")
    return transport


_REPLAY_CLASSES: dict[str, type] = {}


def replay_class(exchange_id: str) -> type[ccxt.Exchange]:
    """The ccxt exchange class of `exchange_id` with fetch() served by the replay transport."""
    import ccxt

    check_exchange(exchange_id)
    cls = _REPLAY_CLASSES.get(exchange_id)
    if cls is None:
        base = getattr(ccxt, exchange_id)
        cls = type(
            f"Replay{base.__name__}",
            (base,),
            {
                "fetch": _replay_fetch,
                "throttle": _no_throttle,
                "__doc__": f"ccxt.{exchange_id} answering from replay recordings.",
            },
        )
        _REPLAY_CLASSES[exchange_id] = cls
    return cls


def replay_client(
    exchange_id: str,
    config: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    clock: Callable[[], int] = now_ms,
    faults: FaultPlan | str | None = None,
    symbols: Sequence[str] = (),
) -> ccxt.Exchange:
    """A ccxt exchange whose HTTP requests are answered by a ReplayTransport (which serves
    `symbols` too, synthesizing the markets the recording does not list)."""
    client = replay_class(exchange_id)(cast("ConstructorArgs", dict(config or {})))
    # The transport rides on the instance: _replay_fetch (the class's fetch) reads it.
    setattr(  # noqa: B010 - not an attribute ccxt declares
        client,
        "replay_transport",
        ReplayTransport(exchange_id, seed=seed, clock=clock, faults=faults, symbols=symbols),
    )
    return client
