"""Binance spot REST API (https://api.binance.com/api/v3) in its native format.

- GET /api/v3/exchangeInfo: the recorded sample `samples/binance_exchange_info.json`, plus
  configured symbols it does not list, synthesized as Binance writes a symbol (filters
  PRICE_FILTER, LOT_SIZE, NOTIONAL, ... with 8-decimal strings).
- GET /api/v3/klines?symbol=BTCUSDT&interval=1h&startTime=..&endTime=..&limit=..: arrays
  `[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteAssetVolume",
  trades, "takerBuyBaseVolume", "takerBuyQuoteVolume", "0"]`, oldest first. startTime and
  endTime are inclusive bounds on the open time; without startTime the newest candles up to
  endTime (or now) come back. limit: default 500, at most 1000.
Errors are HTTP 400 with `{"code": -1121, "msg": "Invalid symbol."}` and friends.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, ClassVar

from .base import (
    Handler,
    Instrument,
    Request,
    Response,
    SyntheticMarket,
    WireFormat,
    fmt,
    int_param,
    open_times,
)


def _error(code: int, message: str) -> Response:
    return Response(400, {"code": code, "msg": message}, reason="Bad Request")


class BinanceWire(WireFormat):
    """Binance's exchangeInfo and klines endpoints, served from the sample and the generator.

    Example::

        transport = ReplayTransport("binance")  # routes requests to a BinanceWire
        response = transport.respond(
            "GET", "https://api.binance.com/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=2"
        )
        response.payload[0][:2]  # [open time ms, "open" with 8 decimals]
    """

    exchange_id = "binance"
    markets_sample = "binance_exchange_info.json"
    intervals: ClassVar[dict[str, str]] = {
        "1m": "1m",
        "5m": "5m",
        "15m": "15m",
        "1h": "1h",
        "4h": "4h",
        "1d": "1d",
    }
    page_limit = 1000

    def routes(self) -> dict[str, Handler]:
        return {"/api/v3/exchangeInfo": self.exchange_info, "/api/v3/klines": self.klines}

    def parse_instruments(self, payload: Any) -> list[Instrument]:
        instruments = []
        for entry in payload["symbols"]:
            filters = {item["filterType"]: item for item in entry["filters"]}
            instruments.append(
                Instrument(
                    native_id=entry["symbol"],
                    base=entry["baseAsset"],
                    quote=entry["quoteAsset"],
                    tick=Decimal(filters["PRICE_FILTER"]["tickSize"]),
                    lot=Decimal(filters["LOT_SIZE"]["stepSize"]),
                )
            )
        return instruments

    def keep_instruments(self, payload: Any, native_ids: set[str]) -> Any:
        payload["symbols"] = [s for s in payload["symbols"] if s["symbol"] in native_ids]
        return payload

    def add_markets(self, payload: Any, markets: list[SyntheticMarket]) -> Any:
        symbols = payload["symbols"]
        taken = set(self.market_ids(payload))
        for market in markets:
            # Shaped like a recorded symbol with the same quote asset (else the first one).
            model = next((s for s in symbols if s["quoteAsset"] == market.quote), symbols[0])
            entry = copy.deepcopy(model)
            entry["symbol"] = self.claim_id(taken, self.synthetic_id(market), market)
            entry["status"] = "TRADING"
            entry["baseAsset"], entry["quoteAsset"] = market.base, market.quote
            for key in ("baseAssetPrecision", "quotePrecision", "quoteAssetPrecision"):
                entry[key] = 8
            eight = {
                "PRICE_FILTER": {
                    "minPrice": market.tick,
                    "maxPrice": market.max_price,
                    "tickSize": market.tick,
                },
                "LOT_SIZE": {
                    "minQty": market.lot,
                    "maxQty": market.max_amount,
                    "stepSize": market.lot,
                },
                "MARKET_LOT_SIZE": {"minQty": Decimal(0), "maxQty": market.max_amount},
                "NOTIONAL": {"minNotional": market.min_cost},
            }
            for item in entry["filters"]:
                for key, value in eight.get(item["filterType"], {}).items():
                    item[key] = fmt(value, 8, strip=False)
            symbols.append(entry)
        return payload

    def exchange_info(self, request: Request) -> Response:
        payload = self.markets_payload()
        wanted = request.query.get("symbol")
        if wanted is not None:
            payload["symbols"] = [s for s in payload["symbols"] if s["symbol"] == wanted]
            if not payload["symbols"]:
                return _error(-1121, "Invalid symbol.")
        return Response(200, payload)

    def klines(self, request: Request) -> Response:
        query = request.query
        symbol = query.get("symbol")
        if not symbol:
            return _error(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        instrument = self.instruments.get(symbol)
        if instrument is None:
            return _error(-1121, "Invalid symbol.")
        seconds = self.native_timeframe(query.get("interval"))
        if seconds is None:
            return _error(-1120, "Invalid interval.")
        try:
            limit = int_param(query, "limit") or 500
            start = int_param(query, "startTime")
            end = int_param(query, "endTime")
        except ValueError:
            return _error(-1100, "Illegal characters found in a parameter.")
        times = open_times(
            seconds * 1000,
            self.clock(),
            first=start,
            last=end,
            limit=min(max(limit, 1), 1000),
            newest=start is None,
        )
        rows = []
        for candle in self.quantized_candles(instrument, seconds, times):
            rows.append(
                [
                    candle.timestamp_ms,
                    fmt(candle.open, 8, strip=False),
                    fmt(candle.high, 8, strip=False),
                    fmt(candle.low, 8, strip=False),
                    fmt(candle.close, 8, strip=False),
                    fmt(candle.volume, 8, strip=False),
                    candle.timestamp_ms + seconds * 1000 - 1,
                    fmt(candle.quote_volume, 8, strip=False),
                    candle.trades,
                    fmt(candle.taker_buy_volume, 8, strip=False),
                    fmt(candle.taker_buy_quote_volume, 8, strip=False),
                    "0",
                ]
            )
        return Response(200, rows)
